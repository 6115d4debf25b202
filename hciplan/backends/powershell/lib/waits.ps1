# waits.ps1: part of the helper library of the hciplan upgrade script (Windows PowerShell 5.1).
# Bounded waits: every wait has a timeout, and a poll that throws counts as not yet.
# hciplan copies into a script only the functions it calls (hciplan/backends/powershell/library.py); code
# outside a function is never copied. Plan values come from the script's data region, read by name.

function Wait-Until {
    # Bounded wait: polls every $IntervalSeconds and gives up after $TimeoutMinutes. A poll that throws (a node
    # restarting, a transient RPC or CIM error) counts as not yet; only $MaxPollErrors failed polls in a row end
    # the wait early, with the last error (so a condition that throws on purpose fails after that many polls).
    param(
        [Parameter(Mandatory)] [scriptblock] $Condition,
        [Parameter(Mandatory)] [string] $What,
        [Parameter(Mandatory)] [int] $TimeoutMinutes,
        [int] $IntervalSeconds = $PollSeconds,
        [int] $MaxPollErrors = 3
    )
    $deadline = [datetimeoffset]::Now.AddMinutes($TimeoutMinutes)
    $failedPolls = 0
    while ($true) {
        $ready = $false
        try {
            $ready = [bool](& $Condition)
            $failedPolls = 0
        }
        catch {
            $failedPolls++
            if ($failedPolls -ge $MaxPollErrors) {
                throw ('{0} polls in a row failed while waiting for {1}: {2}' -f $failedPolls, $What, $_)
            }
            Write-Warning ('waiting for {0}: a poll failed ({1}); trying again' -f $What, $_)
        }
        if ($ready) { return }
        if ([datetimeoffset]::Now -ge $deadline) {
            $script:TimedOut = $true
            throw ('timed out after {0} min waiting for {1}' -f $TimeoutMinutes, $What)
        }
        Write-Verbose ('waiting for {0}' -f $What)
        Start-Sleep -Seconds $IntervalSeconds
    }
}
