# cau_run.ps1: part of the helper library of the hciplan upgrade script (Windows PowerShell 5.1).
# After a CAU run: whether every node is Up, and the per-node progress journalled when the run ended early.
# hciplan copies into a script only the functions it calls (hciplan/backends/powershell/library.py); code
# outside a function is never copied. Plan values come from the script's data region, read by name.

function Test-AllNodesUp {
    foreach ($node in $PlanNodes) {
        if (-not (Test-NodeUp -Node $node)) { return $false }
    }
    return $true
}

function Write-CauSubSteps {
    # Per-node progress of a CAU run that ended early (failure, -StopAfter mid-node, cancel), from node state:
    # the build proves setup and reboots, Up (not paused) proves the resume, healthy storage the storage wait.
    $healthy = $false
    try { $healthy = @(Get-StorageProblem).Count -eq 0 } catch { $healthy = $false }
    foreach ($node in $PlanNodes) {
        $upgraded = Test-NodeUpgraded -Node $node
        $up = $upgraded -and (Test-NodeUp -Node $node)
        $shown = @{ upgraded = $upgraded; up = $up; healthy = ($up -and $healthy) }
        foreach ($entry in $CauSubSteps[$node].GetEnumerator()) {
            $status = 'pending'
            if ($shown[[string]$entry.Value]) { $status = 'done' }
            Write-Journal -Step $entry.Key -Status $status -Start $script:StepStart -Message ('from the node state after the CAU run (needs: {0})' -f $entry.Value)
        }
    }
}

function Install-CauWindowGate {
    # The window rule inside the CAU run: writes CAU's pre-update script to the same local path on every node
    # and returns that path. CAU runs it on each node before it drains the node; when it fails, the node is not
    # updated and the run ends between nodes [W-invoke], [W-opts] (a .ps1 path of at most 260 characters that
    # every node reaches). It refuses a node whose unit (the plan's fit_minutes) no longer ends before the
    # window does, as the simulator's window rule does.
    param(
        [Parameter(Mandatory)] [hashtable] $FitMinutes,
        [Parameter(Mandatory)] [datetimeoffset] $WindowEnd
    )
    $path = 'C:\ProgramData\hciplan\CauPreUpdate.ps1'
    $invariant = [System.Globalization.CultureInfo]::InvariantCulture
    $lines = @(
        ('# Written by Invoke-HciUpgrade.ps1 for plan {0}: the hciplan window rule for CAU (docs/powershell.md).' -f $PlanFingerprint)
        '$ErrorActionPreference = ''Stop'''
        ('$windowEnd = [datetimeoffset]::Parse(''{0}'', [System.Globalization.CultureInfo]::InvariantCulture)' -f $WindowEnd.ToString('o', $invariant))
        '$fit = @{'
    )
    foreach ($node in $FitMinutes.Keys) {
        $lines += ('    ''{0}'' = {1}' -f ([string]$node).Replace([string][char]39, [string][char]39 + [char]39), ([double]$FitMinutes[$node]).ToString($invariant))
    }
    $lines += @(
        '}'
        '$need = 0'
        'foreach ($name in $fit.Keys) { if ($name.Split(''.'')[0] -eq $env:COMPUTERNAME) { $need = [double]$fit[$name] } }'
        'if ([datetimeoffset]::Now.AddMinutes($need) -gt $windowEnd) {'
        '    throw (''hciplan: {0} needs about {1:N0} min to its safe point but the window ends {2:u}: not started, the run stops between nodes'' -f $env:COMPUTERNAME, $need, $windowEnd)'
        '}'
    )
    $text = ($lines -join [Environment]::NewLine) + [Environment]::NewLine
    foreach ($node in $PlanNodes) {
        Invoke-OnNode -Node $node -ArgumentList $path, $text -ScriptBlock {
            param($Path, $Text)
            $ErrorActionPreference = 'Stop'
            $folder = Split-Path -Path $Path -Parent
            if (-not (Test-Path -LiteralPath $folder)) { $null = New-Item -Path $folder -ItemType Directory }
            [System.IO.File]::WriteAllText($Path, $Text, [System.Text.UTF8Encoding]::new($true))
        }
    }
    return $path
}

function Test-CauStoppedAtWindow {
    # Whether a CAU run that ended early stopped at the window rule: every node Up, the next node still on the
    # old build needs more time than the window has left, and CAU's report shows the pre-update script's own
    # refusal (its 'hciplan:' message). Anything else is a real failure, reported as one (an assumption: CAU
    # puts the pre-update script's error in Get-CauReport -Detailed; if it does not, the run is reported failed).
    param(
        [Parameter(Mandatory)] [hashtable] $FitMinutes,
        [Parameter(Mandatory)] [datetimeoffset] $WindowEnd
    )
    if ($WindowEnd -eq [datetimeoffset]::MaxValue) { return $false }
    $pending = @($PlanNodes | Where-Object { -not (Test-NodeUpgraded -Node $_) })
    if ($pending.Count -eq 0 -or -not (Test-AllNodesUp)) { return $false }
    if ([datetimeoffset]::Now.AddMinutes([double]$FitMinutes[$pending[0]]) -le $WindowEnd) { return $false }
    try { $report = Out-String -Width 4096 -InputObject (Get-CauReport -ClusterName $ClusterName -Last -Detailed @CredentialArgs | Format-List) }
    catch { return $false }
    return $report -match 'hciplan: '
}
