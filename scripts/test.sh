#!/usr/bin/env bash
# Sets up everything the tests need (apt packages, the S3 gateway, NuGet restore) and runs all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_dotnet
ensure_apt_packages fuse3 rsync attr acl git zip unzip cpio
ensure_native_toolchain
if [ -x scripts/start-s3.sh ]; then scripts/start-s3.sh; fi
dotnet restore BackupFs.sln >/dev/null
dotnet build BackupFs.sln -c Release --no-restore -v quiet -nologo
scripts/lib/run-tests.sh "$@"
