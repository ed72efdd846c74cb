#!/usr/bin/env bash
# Rough raw throughput of the S3 gateway with BackupFs's client: PUT/GET of 4 MiB objects at
# concurrency 1 and 8 (24/48 objects). A quick look, not a benchmark suite: numbers depend on
# what else the machine is doing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/start-s3.sh >/dev/null
dotnet build tests/S3.Tests -c Release -v q -nologo >/dev/null
BACKUPFS_S3_BENCH=1 dotnet test tests/S3.Tests -c Release --no-build --filter "FullyQualifiedName~S3RawThroughputBench" \
  --logger "console;verbosity=detailed" 2>&1 | grep -E "c=[0-9]+:|Failed"
