"""Broadcast: places, devices, playlists, schedules, announcements, rota and the timeline."""
