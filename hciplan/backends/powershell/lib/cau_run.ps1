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
