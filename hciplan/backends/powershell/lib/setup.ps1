# setup.ps1: part of the helper library of the hciplan upgrade script (Windows PowerShell 5.1).
# The feature update from the extracted ISO (media route): the media check (path and build) and setup.exe on the nodes.
# hciplan copies into a script only the functions it calls (hciplan/backends/powershell/library.py); code
# outside a function is never copied. Plan values come from the script's data region, read by name.

function Get-NodeMediaProblem {
    # The extracted ISO must be at the same local path on every node, with setup.exe in it [A-ps], and it must
    # install the 23H2 build: the build of its first install image (Get-WindowsImage -Index 1, the Dism module
    # on the node) must be $TargetBuild. Media of another release (26100, 24H2) fails here, before any drain.
    # Returns nothing when the media is right, or the problem.
    param([Parameter(Mandatory)] [string] $Node)
    Invoke-OnNode -Node $Node -ArgumentList @($PlanMediaPath, $TargetBuild) -ScriptBlock {
        param($MediaPath, $Build)
        $ErrorActionPreference = 'Stop'
        if (-not (Test-Path -LiteralPath (Join-Path -Path $MediaPath -ChildPath 'setup.exe') -PathType Leaf)) {
            return ('setup.exe is not in {0}: extract the ISO to the same folder on every node [A-ps]' -f $MediaPath)
        }
        $images = @('install.wim', 'install.esd' | ForEach-Object { Join-Path -Path (Join-Path -Path $MediaPath -ChildPath 'sources') -ChildPath $_ } | Where-Object { Test-Path -LiteralPath $_ -PathType Leaf })
        if ($images.Count -eq 0) { return ('{0} has no sources\install.wim or install.esd: it is not extracted setup media' -f $MediaPath) }
        $version = [version](Get-WindowsImage -ImagePath $images[0] -Index 1).Version
        if ($version.Build -ne $Build) {
            return ('the media in {0} installs build {1} ({2}), not the 23H2 build {3}: extract the 23H2 ISO there' -f $MediaPath, $version.Build, $version, $Build)
        }
    }
}

function Start-NodeSetup {
    # Runs the feature update setup from the extracted media, bounded; setup's own reboot is left to the next step.
    # Arguments from the lab procedure [G-hol]; /NoReboot so the reboot is the plan's explicit, bounded step.
    # Exit codes 0 and 3010 (restart needed) count as success (assumption); the build check after the restart
    # is the real proof. Any other code, or a setup still running from an earlier run, fails the step.
    param([Parameter(Mandatory)] [string[]] $Nodes, [Parameter(Mandatory)] [int] $TimeoutMinutes)
    $jobs = @()
    foreach ($node in $Nodes) {
        $jobs += Invoke-Command -ComputerName $node -AsJob -ArgumentList @($PlanMediaPath) -ScriptBlock {
            param($MediaPath)
            $ErrorActionPreference = 'Stop'
            $busy = @(Get-CimInstance -ClassName 'Win32_Process' -Filter 'Name = ''setup.exe'' OR Name = ''SetupHost.exe''')
            if ($busy.Count -gt 0) {
                throw ('setup is already running ({0}): let it finish (C:\$WINDOWS.~BT\Sources\Panther\setupact.log), then rerun' -f (@($busy | ForEach-Object { $_.ExecutablePath }) -join ', '))
            }
            $setup = Join-Path -Path $MediaPath -ChildPath 'setup.exe'
            $process = Start-Process -FilePath $setup -ArgumentList '/auto upgrade /EULA accept /DynamicUpdate disable /NoReboot' -Wait -PassThru
            $process.ExitCode
        } @CredentialArgs
    }
    $finished = @(Wait-Job -Job $jobs -Timeout ($TimeoutMinutes * 60))
    if ($finished.Count -lt $jobs.Count) {
        $script:TimedOut = $true
        throw ('setup did not finish within {0} min on every node; it may still be running: check C:\$WINDOWS.~BT\Sources\Panther\setupact.log on the nodes' -f $TimeoutMinutes)
    }
    $failures = @()
    foreach ($job in $jobs) {
        try {
            $output = @(Receive-Job -Job $job)
            $code = [int]$output[-1]
            Write-Host ('setup on {0} exited with code {1}' -f $job.Location, $code)
            if ($code -notin @(0, 3010)) { $failures += ('{0}: setup exited with {1} (0x{1:X8})' -f $job.Location, $code) }
        }
        catch { $failures += ('{0}: {1}' -f $job.Location, $_) }
        Remove-Job -Job $job -Confirm:$false
    }
    if ($failures.Count -gt 0) {
        throw ('setup failed on {0}: see C:\$WINDOWS.~BT\Sources\Panther\setuperr.log on those nodes' -f ($failures -join '; '))
    }
}
