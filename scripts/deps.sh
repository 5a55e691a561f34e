#!/usr/bin/env bash
# Installs what the tests need beyond Go: openssl (SM2/SM3 interop tests),
# SoftHSM v2 (the PKCS#11 unseal tests) and promtool (the metrics check,
# from Debian's prometheus package; no server is left running) and chromium
# (the console's browser tests, e2e/console_test.go). Quiet when
# everything is there already. PostgreSQL is .ci/run's and
# scripts/pg-setup.sh's.
set -euo pipefail
need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v softhsm2-util >/dev/null 2>&1 || need+=(softhsm2)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${need[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    if [[ " ${need[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1; then
      systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
  else
    echo "missing: ${need[*]} (install them with your package manager)" >&2
    exit 1
  fi
fi
