# runner.ps1: part of the helper library of the hciplan upgrade script (Windows PowerShell 5.1).
# The runner: every step goes through Invoke-PlanStep (journal, phase, window, probe, confirmation,
# irreversible check, verify); the run starts with Start-HciRun and ends with Complete-HciRun or Stop-Upgrade.
# hciplan copies into a script only the functions it calls (hciplan/backends/powershell/library.py); code
# outside a function is never copied. Plan values come from the script's data region, read by name.

function Invoke-PlanStep {
    # The runner: journal -> phase -> probe -> window (unit heads only) -> ShouldProcess -> irreversible -> run
    # -> verify -> journal. The plan's units decide where work may stop: the window rule applies only before
    # an entry that starts a unit (-Unit), which then runs to its safe point, past the window's end if it must
    # (journalled as 'overrun' by the entry that ends it, -EndsUnit). The simulator applies the same rule.
    # The runner asks once per step; inside a step, state-changing cmdlets run with -Confirm:$false (they would
    # inherit -Confirm and ask again), and cleanup calls with -WhatIf:$false (they also run in the rehearsal).
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    param(
        [Parameter(Mandatory)] [string] $Id,
        [Parameter(Mandatory)] [string] $Phase,
        [Parameter(Mandatory)] [string] $Title,
        [Parameter(Mandatory)] [scriptblock] $Action,
        [string] $Target = $ClusterName,
        [string] $Unit,
        [double] $FitMinutes = 0,
        [string] $EndsUnit,
        [string[]] $Covers = @(),
        [scriptblock] $Probe,
        [scriptblock] $Verify,
        [switch] $Irreversible,
        [switch] $ReadOnly
    )
    # A read-only gate (preflight, stale-plan check) is never skipped from the journal: every run and every
    # rehearsal re-checks the live cluster, whatever phases are selected.
    $journalled = $script:Journal.ContainsKey($Id) -and $script:Journal[$Id] -in @('done', 'skipped')
    if ($journalled -and -not $ReadOnly) {
        Write-Verbose ('{0}: done in an earlier run' -f $Id)
        return
    }
    if (-not $journalled -and $script:SelectedPhases -notcontains $Phase) {
        $later = @($script:SelectedPhases | Where-Object { $PlanPhases.IndexOf($_) -gt $PlanPhases.IndexOf($Phase) })
        if ($later.Count -gt 0) {
            Stop-Upgrade -Code 2 -Message ('{0} (phase {1}) is not done yet, and phases run in order: include {1} in -Phase' -f $Id, $Phase)
        }
        Stop-Upgrade -Code 0 -Message ('phases {0} are done; the next step is {1} (phase {2})' -f ($script:SelectedPhases -join ', '), $Id, $Phase)
    }
    $script:CurrentStep = $Id
    $script:StepStart = [datetimeoffset]::Now
    $unitNote = $null
    if ($Probe) {
        $already = $false
        try { $already = [bool](& $Probe) } catch { Write-Verbose ('{0}: probe failed: {1}' -f $Id, $_) }
        if ($already) {
            Write-Host ('{0}: already in the target state, skipped' -f $Id)
            Write-Journal -Step $Id -Status 'skipped' -Start $script:StepStart -Message 'probe: already in the target state'
            return
        }
    }
    # A unit whose head already started (an earlier run failed or was interrupted inside it) runs on to its
    # safe point: stopping it for the window would leave a node paused or down until the next window.
    if ($Unit -and -not $ReadOnly -and -not $script:UnitStarted.ContainsKey($Id)) {
        $expected = $script:StepStart.AddMinutes($FitMinutes)
        if ($expected -gt $script:WindowEndAt) {
            $why = ('the window ends {0:u}; unit {1} needs about {2:N0} min to its next safe point (until {3:u})' -f $script:WindowEndAt, $Unit, $FitMinutes, $expected)
            if ($script:Rehearsal) {
                Write-Warning ('a real run would stop before {0}: {1}' -f $Id, $why)
            }
            else {
                Write-Journal -Step $Id -Status 'window' -Start $script:StepStart -Message $why
                Stop-Upgrade -Code 4 -Message ('not started: {0}. Rerun in the next window; the run resumes at {1}.' -f $why, $Id)
            }
        }
        elseif (-not $script:Rehearsal) {
            # Once started, the unit runs to its safe point even if the window ends first.
            $ends = 'there is no window end'
            if ($script:WindowEndAt -lt [datetimeoffset]::MaxValue) { $ends = ('the window ends {0:u}' -f $script:WindowEndAt) }
            $unitNote = ('unit {0} starts: expected at its safe point by {1:u} ({2:N0} min at the plan''s confidence); {3}' -f $Unit, $expected, $FitMinutes, $ends)
        }
    }
    if ($ReadOnly) {
        # Changes nothing, so it is not asked for; it runs in the rehearsal too.
        Write-Host ('{0}: read-only check of the live cluster' -f $Id)
    }
    elseif (-not $PSCmdlet.ShouldProcess($Target, ('{0}: {1}' -f $Id, $Title))) {
        # Only the -WhatIf rehearsal carries on; a No (or No to All) at the prompt stops the run here.
        if ($script:Rehearsal) { return }
        Write-Journal -Step $Id -Status 'declined' -Start $script:StepStart -Message 'declined at the confirmation prompt'
        Stop-Upgrade -Code 5 -Message ('{0} was declined at the confirmation prompt, so the run stops before it. Rerun to resume at {0} (-Confirm:$false runs without asking).' -f $Id)
    }
    if ($Irreversible -and -not $ConfirmIrreversible) {
        $yes = $false
        try { $yes = $PSCmdlet.ShouldContinue(('{0} cannot be undone: {1}. Continue?' -f $Id, $Title), 'Irreversible step') } catch { $yes = $false }
        if (-not $yes) {
            Write-Journal -Step $Id -Status 'declined' -Start $script:StepStart -Message 'irreversible step not confirmed'
            Stop-Upgrade -Code 5 -Message ('{0} is irreversible and was not confirmed: rerun with -ConfirmIrreversible (or answer Yes) to run it' -f $Id)
        }
    }
    if ($unitNote) {
        Write-Host $unitNote
        Write-Journal -Step $Id -Status 'unit' -Start $script:StepStart -Message $unitNote
    }
    # When the step's work begins (after the probe and the prompts): hciplan progress reads it.
    $script:StepStart = [datetimeoffset]::Now
    Write-Journal -Step $Id -Status 'start' -Start $script:StepStart -Message 'started'
    $script:TimedOut = $false
    try {
        & $Action
        if ($Verify -and -not (& $Verify)) { throw ('its post-condition does not hold after it ran') }
    }
    catch {
        $status = 'failed'
        if ($script:TimedOut) { $status = 'timeout' }
        Write-Journal -Step $Id -Status $status -Start $script:StepStart -Message ([string]$_)
        Stop-Upgrade -Code 1 -Message ('{0} {1}: {2}{3}Fix the cause and rerun: the run resumes at {0}.' -f $Id, $status, $_, [Environment]::NewLine)
    }
    if ($script:Rehearsal) { return }
    Write-Journal -Step $Id -Status 'done' -Start $script:StepStart -Message 'ok'
    foreach ($covered in $Covers) {
        Write-Journal -Step $covered -Status 'done' -Start $script:StepStart -Message ('done by {0}' -f $Id)
    }
    $now = [datetimeoffset]::Now
    if ($EndsUnit -and $now -gt $script:WindowEndAt) {
        $late = ('unit {0} reached its safe point {1:N0} min after the window ended ({2:u})' -f $EndsUnit, ($now - $script:WindowEndAt).TotalMinutes, $script:WindowEndAt)
        Write-Warning $late
        Write-Journal -Step $Id -Status 'overrun' -Start $script:StepStart -Message $late
    }
}

function Start-HciRun {
    $script:WindowEndAt = Resolve-WindowEnd
    if ($env:COMPUTERNAME -in $PlanNodes) {
        Stop-Upgrade -Code 2 -Message ('this script reboots the cluster nodes: run it from a machine outside the cluster, not from {0} [A-ps]' -f $env:COMPUTERNAME)
    }
    if ($PlanOrchestrator -and ($env:COMPUTERNAME -ne $PlanOrchestrator.Split('.')[0])) {
        Write-Warning ('the plan names {0} as the orchestrator; this is {1}' -f $PlanOrchestrator, $env:COMPUTERNAME)
    }
    if (-not $script:Rehearsal) {
        $folder = Split-Path -Path $JournalPath -Parent
        if ($folder -and -not (Test-Path -LiteralPath $folder)) { $null = New-Item -Path $folder -ItemType Directory }
        $null = Start-Transcript -Path ($JournalPath + '.transcript.txt') -Append
        $script:Transcribing = $true
    }
    $script:Journal = Read-Journal
    Write-Host ('Plan {0}: cluster {1}, {2} steps; window ends {3:u}' -f $PlanFingerprint, $ClusterName, $PlanStepCount, $script:WindowEndAt)
}

function Resolve-WindowEnd {
    # -WindowEnd when given; otherwise the end of the planned window we are in.
    if ($WindowEndGiven) { return [datetimeoffset]$WindowEnd }
    if ($PlanWindows.Count -eq 0) { return [datetimeoffset]::MaxValue }
    $now = [datetimeoffset]::Now
    foreach ($window in $PlanWindows) {
        if ($now -ge $window.Start -and $now -lt $window.End) { return $window.End }
    }
    $list = @($PlanWindows | ForEach-Object { '{0} {1:u} .. {2:u}' -f $_.Name, $_.Start, $_.End }) -join '; '
    if ($script:Rehearsal) {
        Write-Warning ('now is outside every planned window ({0}); a real run would not start' -f $list)
        return [datetimeoffset]::MaxValue
    }
    Stop-Upgrade -Code 4 -Message ('now is outside every planned window ({0}): wait for the next one, or pass -WindowEnd to run anyway' -f $list)
}

function Complete-HciRun {
    Stop-Upgrade -Code 0 -Message ('every step of plan {0} in phases {1} is done' -f $PlanFingerprint, ($Phase -join ', '))
}

function Stop-Upgrade {
    # Ends the run with an exit code (see the help's NOTES); the journal already says where to resume.
    param([Parameter(Mandatory)] [int] $Code, [Parameter(Mandatory)] [string] $Message)
    if ($Code -eq 0) { Write-Host $Message } else { Write-Warning $Message }
    if (-not $script:Rehearsal) { Write-Host ('Journal: {0}' -f $JournalPath) }
    if ($Code -ne 0 -and $PlanSuspendsBitLocker) {
        Write-BitLockerNotice  # a run that stops with BitLocker suspended says so, and how to resume it
    }
    Stop-HciTranscript
    exit $Code
}

function Stop-HciTranscript {
    if ($script:Transcribing) {
        $script:Transcribing = $false
        $null = Stop-Transcript
    }
}

function Request-OperatorAction {
    # Interactive steps: the first run journals 'paused' and stops with the instructions; the rerun
    # with -Acknowledge <step id> continues, and the step's own checks verify what the operator did.
    param([Parameter(Mandatory)] [string] $Instructions)
    $id = $script:CurrentStep
    if ($Acknowledge -contains $id) {
        Write-Host ('{0}: acknowledged by the operator; verifying' -f $id)
        return
    }
    Write-Journal -Step $id -Status 'paused' -Start $script:StepStart -Message $Instructions
    Stop-Upgrade -Code 3 -Message ('{0} needs the operator: {1}{2}When it is done, rerun this script with -Acknowledge ''{0}''; the script checks the result before it goes on.' -f $id, $Instructions, [Environment]::NewLine)
}
