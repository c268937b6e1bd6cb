# Shared by the check scripts: their step banner, and a linter installed into a virtual
# environment of its own on first use (a stamp names the version, so a bump reinstalls it).
# checkov ships its own fork of python-hcl2 under the same module name, which is why linters
# do not share .venv. Source it; PYTHON may name the interpreter.

step() { printf '\n== %s\n' "$*"; }

# tool_venv DIR PACKAGE VERSION: make DIR a virtual environment holding PACKAGE==VERSION.
tool_venv() {
  local dir="$1" package="$2" version="$3"
  local stamp="$dir/.installed-$version"
  [[ -f "$stamp" ]] && return 0
  rm -rf "$dir"
  "${PYTHON:-python3}" -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$package==$version"
  touch "$stamp"
}
