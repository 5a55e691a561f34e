#!/usr/bin/env bash
# Makes a SoftHSM v2 token for trying and testing PKCS#11 unsealing:
#
#   scripts/softhsm-setup.sh DIR [TOKEN-LABEL]
#
# installs SoftHSM (Debian's softhsm2) when it is missing and this runs as
# root with apt-get, then makes DIR/tokens with its own DIR/softhsm2.conf,
# initialises a token (label TOKEN-LABEL, default "domicile") with a test PIN
# written to DIR/pin (mode 0600), and prints the environment to use, for
# `eval "$(scripts/softhsm-setup.sh DIR)"`. The PIN is SOFTHSM_PIN when set,
# otherwise 1234: a test PIN, for a test token. Re-running it on the same DIR
# keeps the token and only prints the environment again.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: scripts/softhsm-setup.sh DIR [TOKEN-LABEL]" >&2
  exit 2
fi
dir=$1
label=${2:-domicile}
pin=${SOFTHSM_PIN:-1234}
so_pin=${SOFTHSM_SO_PIN:-12345678}

if ! command -v softhsm2-util >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: softhsm2" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null
  else
    echo "missing: softhsm2 (install it with your package manager, e.g. apt-get install softhsm2)" >&2
    exit 1
  fi
fi

module=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
  /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so \
  /opt/homebrew/lib/softhsm/libsofthsm2.so; do
  if [ -f "$m" ]; then
    module=$m
    break
  fi
done
if [ -z "$module" ]; then
  echo "softhsm-setup: libsofthsm2.so not found in the usual places" >&2
  exit 1
fi

mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
conf=$dir/softhsm2.conf
cat >"$conf" <<EOF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF=$conf

if ! softhsm2-util --show-slots 2>/dev/null | grep -q "Label: *$label *\$"; then
  softhsm2-util --init-token --free --label "$label" --pin "$pin" --so-pin "$so_pin" >/dev/null
fi
(umask 077 && printf '%s\n' "$pin" >"$dir/pin")

echo "export SOFTHSM2_CONF=$conf"
echo "export DOMICILE_PKCS11_MODULE=$module"
echo "# unseal URI, for domicile keys hsm-wrap and domicile serve --unseal:"
echo "#   pkcs11:module=$module;token=$label;key=KEY-LABEL;pin-file=$dir/pin"
