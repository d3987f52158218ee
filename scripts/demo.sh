#!/usr/bin/env bash
# The demo: import the bundled sample covenant, render every clause, catalogue a few generated
# recordings, set up the sample village's devices and evening programme, serve the page.
# Data goes to $KUANYUE_HOME (default ~/.local/share/kuanyue); run it again and nothing is redone.
set -euo pipefail
cd "$(dirname "$0")/.."
K=.venv/bin/kuanyue
SAMPLE=library/samples/rongxi-covenant.yaml

$K doctor
$K covenant import "$SAMPLE" --slug rongxi
$K render --covenant rongxi
# A few GENERATED recordings (labelled as such), catalogued with lyrics, a clause link, consent.
.venv/bin/python scripts/demo_catalogue.py --clause rongxi-01

# The sample village as a place, its devices and an evening programme (issue 10). Each step
# looks first and makes only what is missing, so a second run changes nothing.
VILLAGE=榕溪村
TOWNSHIP=肇兴镇
PLAYLIST=晚间节目
WINDOW=19:30-20:30
echo "== 榕溪村：地点、设备与晚间节目 / the village, its devices and the evening programme =="
has_line() { grep -qxF -- "$2" <<<"$1"; }  # TEXT LINE: is LINE one of TEXT's lines?
villages=$($K village list)
if ! has_line "$(printf '%s\n' "$villages" | cut -f1)" "黎平县/$TOWNSHIP/$VILLAGE"; then
    $K village add "$VILLAGE" --township "$TOWNSHIP"
    villages=$($K village list)
fi
zones=$(printf '%s\n' "$villages" | awk -F'\t' -v v="黎平县/$TOWNSHIP/$VILLAGE" \
    '$1 == v { sub(/^[^:]*: /, "", $3); gsub(/、/, "\n", $3); print $3 }')
for z in 上寨 下寨; do
    has_line "$zones" "$z" || $K village zone add "$VILLAGE" "$z"
done
# A device's token is printed once, when it is made. A real installation copies it onto the
# device there and then (the device API that checks it comes with a later issue; a lost one
# is replaced with `kuanyue device token NAME`). The demo keeps it only in memory, not on disk.
devices=$($K device list --village "$VILLAGE" | cut -f2)
add_device() {  # NAME KIND [--zone Z]...
    local name=$1 kind=$2 out
    shift 2
    has_line "$devices" "$name" && return
    if ! out=$($K device add "$name" --village "$VILLAGE" --kind "$kind" "$@" 2>&1); then
        printf '%s\n' "$out" >&2
        exit 1
    fi
    printf '%s\n' "$out" | grep -v -e '^密钥 / token:' -e '^请现在抄下'
    echo "  密钥已生成、未显示：真实安装时此刻抄到设备上 / token made, not shown: a real installation copies it onto the device now"
}
add_device 鼓楼喇叭 loudspeaker
add_device 下寨喇叭 loudspeaker --zone 下寨
add_device 鼓楼屏幕 screen
$K device list --village "$VILLAGE"

# The evening playlist: the sample covenant's clauses in order, then the demo song 防火歌 —
# a generated stand-in, catalogued public with a broadcast consent, so it may go on air
# (`playlist add` asks the access rule again and refuses it otherwise).
if ! shown=$($K playlist show "$PLAYLIST" 2>&1); then
    case $shown in
        *"no playlist $PLAYLIST"*) $K playlist create "$PLAYLIST" --village "$VILLAGE" ;;
        *) printf '%s\n' "$shown" >&2; exit 1 ;;
    esac
    shown=$($K playlist show "$PLAYLIST")
fi
if ! grep -q $'^[0-9][0-9]*\t' <<<"$shown"; then  # empty: fill it
    for key in $($K covenant show rongxi | sed -nE 's/^[^ \t]+ (rongxi-[0-9]+)\t.*/\1/p'); do
        $K playlist add "$PLAYLIST" clause "$key" >/dev/null
    done
    found=$($K catalogue search 防火歌)
    song=$(printf '%s\n' "$found" | sed -nE 's/^#([0-9]+)\t防火歌（生成的测试素材）\t.*/\1/p')
    song=${song%%$'\n'*}  # the first, if the catalogue ever holds two
    about=
    [ -z "$song" ] || about=$($K catalogue show "$song" --as "device:$VILLAGE")
    if grep -qE '访问 protocol: (public|village)' <<<"$about" \
        && grep -qE '授权 consent: .* · broadcast · .*有效 valid' <<<"$about"; then
        $K playlist add "$PLAYLIST" recording "$song" >/dev/null
    else
        echo "防火歌不能广播，未加入 / the demo song may not be broadcast: left out"
    fi
    shown=$($K playlist show "$PLAYLIST")
fi
printf '%s\n' "$shown"
if ! $K schedule list --village "$VILLAGE" | awk -F'\t' -v p="$PLAYLIST" -v w="$WINDOW" \
    '$2 == p && $3 == w { found = 1 } END { exit !found }'; then
    $K schedule add "$PLAYLIST" --rrule FREQ=DAILY --window "$WINDOW" --village "$VILLAGE"
fi
TODAY=$(.venv/bin/python -c 'from datetime import datetime; from zoneinfo import ZoneInfo
print(datetime.now(ZoneInfo("Asia/Shanghai")).date())')
TOMORROW=$(.venv/bin/python -c 'from datetime import date, timedelta
print(date.fromisoformat("'"$TODAY"'") + timedelta(days=1))')
# 鸣锣喊寨 (clause rongxi-01): five households take the evening gong round in turn, at 20:00,
# cutting into the evening programme, which resumes after the call. Each household's call is
# rendered once, when the rota is made.
if ! $K rota show 鸣锣喊寨 --days 7 2>/dev/null; then
    $K rota create 鸣锣喊寨 --village "$VILLAGE" --at 20:00 --from "$TODAY" \
        --member 杨老三 --member 吴家宝 --member 石大姐 --member 陆永年 --member 龙金花
fi
echo "明天鼓楼喇叭的节目单 / tomorrow's plan for 鼓楼喇叭:"
# The playlist loops through its hour: the first pass is enough to read, then the gong round
# (the whole plan: the same command, whole).
PLAN=$($K timeline 鼓楼喇叭 --date "$TOMORROW")
printf '%s\n' "$PLAN" | sed -n '1,18p'
echo "  …"
printf '%s\n' "$PLAN" | grep -B1 -A1 '鸣锣喊寨' | head -3
echo "  …（共 $(printf '%s\n' "$PLAN" | wc -l) 行 / $(printf '%s\n' "$PLAN" | wc -l) lines in all: $K timeline 鼓楼喇叭 --date $TOMORROW）"
PORT=$($K doctor 2>/dev/null | awk '$1 == "KUANYUE_PORT" {print $3; exit}')
PORT=${PORT:-5000}
cat <<EOF

== 设备 / devices ==
大喇叭播放器 / a loudspeaker player, here against this demo (on a Raspberry Pi: deploy/PLAYER.md):
  $K device token 鼓楼喇叭     # prints its credential once; the old one stops working
  cp deploy/kuanyue-player.ini.example /tmp/player.ini
  # in /tmp/player.ini: url = http://127.0.0.1:$PORT, credential = <printed>, folders under /tmp
  python3 scripts/kuanyue_player.py --config /tmp/player.ini
屏幕 / the screen: open http://127.0.0.1:$PORT/screen in Chromium, then
  $K device pair <屏幕上的六位码 / the code it shows> 鼓楼屏幕
村广播流 / a radio stream:
  $K device add 电台 --village $VILLAGE --kind stream && $K stream start
EOF
exec $K serve
