#!/usr/bin/env bash
# Proves that installing the student package the way the notebooks' Colab setup cell does (a pip
# install of the package with the dependency ranges of ./pyproject.toml) leaves Colab's own stack
# alone, and that the solution notebooks run on that stack in the smoke profile.
#
# The stack is what Colab shipped in 2025: TensorFlow 2.19.0, Keras 3.10.0, NumPy 2.0.2 (plus
# ipykernel, which Colab also preinstalls and which the notebooks' kernel needs). The venv is kept
# in $COLAB_VENV (default .venv-colab) and rebuilt from scratch whenever ./pyproject.toml or the
# stack changes; the package itself is reinstalled from the working tree on every run.
#
# Usage: .ci/colab-stack.sh            (make test-colab-stack)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${COLAB_VENV:-.venv-colab}
TOOLS_BIN=${TOOLS_BIN:-.venv/bin}       # the runner (papermill) lives in the project's own venv
OUT=${COLAB_OUT:-runs/colab-stack}
STACK=(tensorflow==2.19.0 keras==3.10.0 numpy==2.0.2)

log() { printf '[colab-stack %(%H:%M:%S)T] %s\n' -1 "$*"; }
start=$SECONDS

key=$( (cat pyproject.toml; echo "${STACK[*]} ipykernel") | sha256sum | cut -c1-16)
if [[ ! -f "$VENV/.stack-$key" ]]; then
    log "building $VENV: ${STACK[*]} ipykernel"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "${STACK[@]}" ipykernel
    touch "$VENV/.stack-$key"
fi

freeze_stack() {
    "$VENV/bin/python" -m pip freeze | grep -iE '^(tensorflow|keras|numpy)==' | sort -f
}
expected=$(printf '%s\n' "${STACK[@]}" | sort -f)
before=$(freeze_stack)
if [[ "$before" != "$expected" ]]; then
    log "FAIL: $VENV does not hold the Colab stack before the install:"
    printf '%s\n' "$before"
    log "delete $VENV and run again"
    exit 1
fi

# What the Colab setup cell does: pip install of the package (not editable, dependencies resolved
# by pip against what is already installed). --force-reinstall --no-deps first replaces an older
# copy of our own code; the second, plain install is the one whose resolution is checked.
log "pip install . (as the Colab setup cell installs the package)"
"$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall .
"$VENV/bin/python" -m pip install --quiet .
after=$(freeze_stack)
if [[ "$after" != "$expected" ]]; then
    log "FAIL: installing the package changed Colab's stack:"
    diff <(printf '%s\n' "$expected") <(printf '%s\n' "$after") || true
    log "a dependency range in pyproject.toml pulls a newer NumPy, Keras or TensorFlow; see 'pip install --dry-run --report' in $VENV"
    exit 1
fi
log "stack unchanged: $(echo $after)"
"$VENV/bin/python" -m pip check

# The notebooks must import the installed copy, not the checkout.
"$VENV/bin/python" - "$VENV" <<'EOF'
import os, sys
venv = os.path.realpath(sys.argv[1])
os.chdir("/")  # away from the checkout, whose mitdeeplearning/ would shadow the installed one
import mitdeeplearning, numpy, keras, tensorflow
where = os.path.realpath(mitdeeplearning.__file__)
assert where.startswith(venv), f"mitdeeplearning imported from {where}, not from {venv}"
print(f"imports: tensorflow {tensorflow.__version__}, keras {keras.__version__}, numpy {numpy.__version__}, mitdeeplearning from {where}")
EOF

# The runner starts the kernel named python3; this kernelspec makes that the Colab venv's Python.
kernels="$PWD/$VENV/colab-kernel"
mkdir -p "$kernels/kernels/python3"
cat > "$kernels/kernels/python3/kernel.json" <<EOF
{"argv": ["$PWD/$VENV/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
 "display_name": "Python 3 (Colab stack)", "language": "python"}
EOF

log "solution notebooks, smoke profile, kernel $VENV/bin/python"
export JUPYTER_PATH="$kernels${JUPYTER_PATH:+:$JUPYTER_PATH}"
export MDL_DATA_DIR=${MDL_DATA_DIR:-$PWD/data}
export MDL_OFFLINE=${MDL_OFFLINE:-1}
"$TOOLS_BIN/mitdeeplearning" run --profile smoke --out "$OUT" lab*/solutions/*_Solution.ipynb
log "passed in $((SECONDS - start)) s"
