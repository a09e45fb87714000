#!/usr/bin/env bash
# Proves that another package can depend on this one by version, as an embedder would: the
# repository's tracked files (as the working tree has them) become a throwaway git repository
# tagged 1.0.0, and Scripts/consumer, beside it, depends on it with `from: "1.0.0"`, builds its
# small program (BPFSegment, BPFVM, BPFRuntime) and runs it. SwiftPM refuses a product depended
# upon by version whose targets use unsafe build flags, so this fails if one comes back.
# The consumer's build directory is .build-consumer, reused between runs.
set -euo pipefail
# As a dependency is built: without the opt-in unsafe flag of this package's own test runs.
unset BPFTIMETOOL_FAST_DEBUG
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bpftimetool"
git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$work/bpftimetool"
git -C "$work/bpftimetool" init -q
git -C "$work/bpftimetool" add -A
git -C "$work/bpftimetool" -c user.name=consumer -c user.email=consumer@localhost commit -q -m "bpftimetool as a dependency"
git -C "$work/bpftimetool" tag 1.0.0
cp -R Scripts/consumer "$work/consumer"
swift build --package-path "$work/consumer" --scratch-path .build-consumer --product SegmentConsumer
.build-consumer/debug/SegmentConsumer
