#!/usr/bin/env bash
# Installs what the project needs from Debian, when it is missing:
# - iverilog runs the cocotb testbenches;
# - dataset-fashion-mnist holds the headline dataset;
# - opensta (sta) cross-checks the energy model (vectorless report_power);
# - qflow-tech-osu018's OSU 0.18 um Liberty file (area and energy), downloaded and extracted
#   to /opt/qflow-tech-osu018 rather than installed (installing it pulls in all of qflow).
set -euo pipefail

OSU018_DIR=/opt/qflow-tech-osu018
OSU018_LIB=$OSU018_DIR/usr/share/qflow/tech/osu018/osu018_stdcells.lib

missing=()
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
command -v sta >/dev/null 2>&1 || missing+=(opensta)
need_osu018=0
[ -f "$OSU018_LIB" ] || need_osu018=1

if [ ${#missing[@]} -eq 0 ] && [ $need_osu018 -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    [ $need_osu018 -eq 1 ] && missing+=(qflow-tech-osu018)
    echo "error: missing from Debian: ${missing[*]}; run this script as root" >&2
    exit 1
fi
$sudo apt-get update -qq
if [ ${#missing[@]} -ne 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
if [ $need_osu018 -eq 1 ]; then
    echo "extracting qflow-tech-osu018 to $OSU018_DIR"
    tmp=$(mktemp -d)
    chmod 777 "$tmp"
    (cd "$tmp" && $sudo apt-get download -qq qflow-tech-osu018)
    $sudo mkdir -p "$OSU018_DIR"
    $sudo dpkg-deb -x "$tmp"/qflow-tech-osu018_*.deb "$OSU018_DIR"
    rm -rf "$tmp"
    test -f "$OSU018_LIB"
fi
