#!/usr/bin/env bash
# Fails when a techtrade binary links a shared library other than the C
# library's own (libc, libm, libgcc_s, the dynamic loader, …): libpq, OpenSSL
# and Kerberos are built into it, so a machine needs nothing to run it.
# Usage: tools/check_linkage.sh target/release/techtrade
set -euo pipefail
binary="${1:?usage: $0 BINARY}"
libraries="$(ldd "$binary" | awk '{print $1}')"
echo "$binary links:" $libraries
# What glibc and the compiler runtime ship; everything else is a finding.
allowed='^(linux-vdso\.so\.1|/lib64/ld-linux-x86-64\.so\.2|/lib/ld-linux-aarch64\.so\.1|libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1)$'
unexpected="$(grep -Ev "$allowed" <<<"$libraries" || true)"
if [ -n "$unexpected" ]; then
    echo "$binary links libraries a machine would have to install:" $unexpected >&2
    exit 1
fi
echo "$binary links only the C library"
