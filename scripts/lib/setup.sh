# Shared set-up helpers, sourced by the scripts. Safe to run again: each step checks first.

ensure_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "error: the .NET 10 SDK is required (dotnet not on PATH)" >&2
    exit 1
  fi
}

# Installs Debian packages that are missing; runs 'apt-get update' once when needed.
ensure_apt_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The C toolchain Native AOT links the native backupfs program with (gcc when there is no clang).
ensure_native_toolchain() {
  ensure_apt_packages gcc libc6-dev binutils
}

# Builds the backupfs program in Release (once per change; native, see README) and sets BACKUPFS to its path.
build_backupfs() {
  local root; root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  ensure_native_toolchain
  dotnet build "$root/src/FsHost/FsHost.csproj" -c Release -v quiet -nologo >/dev/null
  BACKUPFS="$root/src/FsHost/bin/Release/net10.0/backupfs"
  export BACKUPFS
}
