#!/usr/bin/env bash
# Type-checks the workspace for macOS (Intel and Apple silicon) on a Linux
# machine: `cargo check`, then clippy, for x86_64- and aarch64-apple-darwin.
#
#   bash tests/check-macos.sh            # both targets
#   bash tests/check-macos.sh x86_64     # one
#
# Needs rustup (it adds the targets) and python3 (it installs the `ziglang`
# package into target/macos-check/venv). The C dependencies (ring, bundled
# SQLite, mimalloc) are compiled with zig's clang, which ships macOS's libc
# headers. Nothing is linked: that needs Apple's SDK, which only a Mac has.
# The two benchmark drivers (tests/benches/daemon.rs, daemon/examples/
# proxy_bench.rs) pin processes to cores with Linux calls and are left out.
set -euo pipefail

cd "$(dirname "$0")/.."
work=target/macos-check
mkdir -p "$work"
if [[ ! -x $work/venv/bin/python ]]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet ziglang
fi
# Not realpath: the venv's python is a symlink, and only its path knows the venv.
python=$(cd "$work/venv/bin" && pwd)/python

archs=("$@")
[[ ${#archs[@]} -gt 0 ]] || archs=(x86_64 aarch64)
for arch in "${archs[@]}"; do
    target=$arch-apple-darwin
    rustup target add "$target" >/dev/null
    # cc-rs passes Apple's own flags; zig takes the target its own way.
    cat >"$work/cc-$arch" <<EOF
#!/usr/bin/env bash
args=()
skip=0
for a in "\$@"; do
    if [[ \$skip = 1 ]]; then skip=0; continue; fi
    case "\$a" in
        -arch) skip=1 ;;
        -mmacosx-version-min=*|--target=*|-gfull|-gdwarf-2) ;;
        *) args+=("\$a") ;;
    esac
done
exec "$python" -m ziglang cc -target $arch-macos "\${args[@]}"
EOF
    printf '#!/usr/bin/env bash\nexec "%s" -m ziglang ar "$@"\n' "$python" >"$work/ar"
    chmod +x "$work/cc-$arch" "$work/ar"
    env_target=${target//-/_}
    export "CC_$env_target=$(realpath "$work/cc-$arch")" "AR_$env_target=$(realpath "$work/ar")"
    scope=(--workspace --lib --bins --tests --example daemon_pings)
    echo "== $target: cargo check"
    cargo check --target "$target" "${scope[@]}"
    echo "== $target: cargo clippy"
    cargo clippy --target "$target" "${scope[@]}" -- -D warnings
done
