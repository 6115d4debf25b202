# journal.ps1: part of the helper library of the hciplan upgrade script (Windows PowerShell 5.1).
# The JSON-lines journal: one line per step event, read back on a rerun to resume (docs/powershell.md).
# hciplan copies into a script only the functions it calls (hciplan/backends/powershell/library.py); code
# outside a function is never copied. Plan values come from the script's data region, read by name.

function Write-Journal {
    # One JSON object per line: step, status, start, end, message, fingerprint (docs/powershell.md).
    param(
        [Parameter(Mandatory)] [string] $Step,
        [Parameter(Mandatory)] [string] $Status,
        [Parameter(Mandatory)] [datetimeoffset] $Start,
        [string] $Message = ''
    )
    # 'unit' (a unit starts), 'start' (a step's work begins) and 'overrun' (a unit ended past the window) are
    # records for the operator and for hciplan, not a step's state: resuming reads only the other statuses.
    if ($Status -notin $JournalNotes) { $script:Journal[$Step] = $Status }
    elseif ($Status -eq 'unit') { $script:UnitStarted[$Step] = $true }
    if ($script:Rehearsal) { return }
    $entry = [ordered]@{
        step = $Step
        status = $Status
        start = $Start.ToString('o')
        end = [datetimeoffset]::Now.ToString('o')
        message = $Message
        fingerprint = $PlanFingerprint
    }
    $line = (ConvertTo-Json -InputObject $entry -Compress) + [Environment]::NewLine
    [System.IO.File]::AppendAllText($JournalPath, $line, [System.Text.UTF8Encoding]::new($false))
}

function Read-Journal {
    # The last status of every step the journal mentions; a journal from another plan stops the run.
    $entries = @{}
    if (-not (Test-Path -LiteralPath $JournalPath)) { return $entries }
    $lines = [System.IO.File]::ReadAllLines($JournalPath)
    for ($i = 0; $i -lt $lines.Count; $i++) {
        $text = $lines[$i].Trim()
        if (-not $text) { continue }
        try {
            $entry = ConvertFrom-Json -InputObject $text
        }
        catch {
            if ($i -eq $lines.Count - 1) {
                Write-Warning ('ignoring the unfinished last line of the journal (an interrupted write): {0}' -f $text)
                continue
            }
            Stop-Upgrade -Code 2 -Message ('line {0} of the journal {1} is not JSON: repair or remove it' -f ($i + 1), $JournalPath)
        }
        if ([string]$entry.fingerprint -ne $PlanFingerprint -and -not $AdoptJournal) {
            Stop-Upgrade -Code 2 -Message ('the journal was written by plan {0} but this script is plan {1}: the plan changed. Re-run hciplan plan and review what changed; to continue from the steps this journal records as done, rerun with -AdoptJournal.' -f $entry.fingerprint, $PlanFingerprint)
        }
        if ([string]$entry.status -notin $JournalNotes) { $entries[[string]$entry.step] = [string]$entry.status }
        elseif ([string]$entry.status -eq 'unit') { $script:UnitStarted[[string]$entry.step] = $true }
    }
    return $entries
}
