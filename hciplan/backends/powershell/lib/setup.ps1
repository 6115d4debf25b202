# setup.ps1: part of the helper library of the hciplan upgrade script (Windows PowerShell 5.1).
# The feature update from the extracted ISO (media route): the media check and setup.exe on the nodes.
# hciplan copies into a script only the functions it calls (hciplan/backends/powershell/library.py); code
# outside a function is never copied. Plan values come from the script's data region, read by name.

function Test-NodeMedia {
    # The extracted ISO must be at the same local path on every node, with setup.exe in it [A-ps].
    param([Parameter(Mandatory)] [string] $Node)
    Invoke-OnNode -Node $Node -ArgumentList @($PlanMediaPath) -ScriptBlock {
        param($MediaPath)
        Test-Path -LiteralPath (Join-Path -Path $MediaPath -ChildPath 'setup.exe') -PathType Leaf
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
