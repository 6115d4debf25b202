"""The fixed PowerShell helpers the generated upgrade script is built on (runner, journal, waits, node work).

Each helper is a named chunk of Windows PowerShell 5.1 code with the helpers
it calls; `powershell.py` includes only the chunks a plan needs, so a script
lists (and `#Requires`) only the modules it really uses. No chunk holds a value
from the `.hciplan` file: plan values live in the script's data region as
quoted literals (see `pstext.literal`), and the chunks read them by name.
Double-quoted (expandable) strings are never used, so no text is ever
interpolated into code.

Sources for the behaviour encoded here are cited next to it with the domain
reference's tags (../shared/domain.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    name: str
    code: str
    needs: tuple[str, ...] = ()


def _chunk(name: str, code: str, *needs: str) -> Chunk:
    return Chunk(name, code.strip("\n"), needs)


CHUNKS = {c.name: c for c in (
    _chunk("Stop-Upgrade", r"""
function Stop-Upgrade {
    # Ends the run with an exit code (see the help's NOTES); the journal already says where to resume.
    param([Parameter(Mandatory)] [int] $Code, [Parameter(Mandatory)] [string] $Message)
    if ($Code -eq 0) { Write-Host $Message } else { Write-Warning $Message }
    if (-not $script:Rehearsal) { Write-Host ('Journal: {0}' -f $JournalPath) }
    Stop-HciTranscript
    exit $Code
}
""", "Stop-HciTranscript"),
    _chunk("Stop-HciTranscript", r"""
function Stop-HciTranscript {
    if ($script:Transcribing) {
        $script:Transcribing = $false
        $null = Stop-Transcript
    }
}
"""),
    _chunk("Write-Journal", r"""
function Write-Journal {
    # One JSON object per line: step, status, start, end, message, fingerprint (docs/powershell.md).
    param(
        [Parameter(Mandatory)] [string] $Step,
        [Parameter(Mandatory)] [string] $Status,
        [Parameter(Mandatory)] [datetimeoffset] $Start,
        [string] $Message = ''
    )
    $script:Journal[$Step] = $Status
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
"""),
    _chunk("Read-Journal", r"""
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
        $entries[[string]$entry.step] = [string]$entry.status
    }
    return $entries
}
""", "Stop-Upgrade"),
    _chunk("Resolve-WindowEnd", r"""
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
""", "Stop-Upgrade"),
    _chunk("Start-HciRun", r"""
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
""", "Resolve-WindowEnd", "Read-Journal", "Stop-Upgrade"),
    _chunk("Complete-HciRun", r"""
function Complete-HciRun {
    Stop-Upgrade -Code 0 -Message ('every step of plan {0} in phases {1} is done' -f $PlanFingerprint, ($Phase -join ', '))
}
""", "Stop-Upgrade"),
    _chunk("Request-OperatorAction", r"""
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
""", "Write-Journal", "Stop-Upgrade"),
    _chunk("Invoke-PlanStep", r"""
function Invoke-PlanStep {
    # The runner: journal -> phase -> window -> probe -> ShouldProcess -> irreversible -> run -> verify -> journal.
    # The runner asks once per step; inside a step, state-changing cmdlets run with -Confirm:$false (they would
    # inherit -Confirm and ask again), and cleanup calls with -WhatIf:$false (they also run in the rehearsal).
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    param(
        [Parameter(Mandatory)] [string] $Id,
        [Parameter(Mandatory)] [string] $Phase,
        [Parameter(Mandatory)] [string] $Title,
        [Parameter(Mandatory)] [scriptblock] $Action,
        [string] $Target = $ClusterName,
        [double] $FitMinutes = 0,
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
    if (-not $ReadOnly) {
        $late = $script:StepStart -ge $script:WindowEndAt
        $tooLong = $FitMinutes -gt 0 -and $script:StepStart.AddMinutes($FitMinutes) -gt $script:WindowEndAt
        if ($late -or $tooLong) {
            $why = ('the window ends {0:u}; {1} needs about {2:N0} min to its next safe point' -f $script:WindowEndAt, $Id, $FitMinutes)
            if ($script:Rehearsal) {
                Write-Warning ('a real run would stop before {0}: {1}' -f $Id, $why)
            }
            else {
                Write-Journal -Step $Id -Status 'window' -Start $script:StepStart -Message $why
                Stop-Upgrade -Code 4 -Message ('not started: {0}. Rerun in the next window; the run resumes at {1}.' -f $why, $Id)
            }
        }
    }
    if ($Probe) {
        $already = $false
        try { $already = [bool](& $Probe) } catch { Write-Verbose ('{0}: probe failed: {1}' -f $Id, $_) }
        if ($already) {
            Write-Host ('{0}: already in the target state, skipped' -f $Id)
            Write-Journal -Step $Id -Status 'skipped' -Start $script:StepStart -Message 'probe: already in the target state'
            return
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
}
""", "Write-Journal", "Stop-Upgrade"),
    _chunk("Wait-Until", r"""
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
"""),
    _chunk("Invoke-OnNode", r"""
function Invoke-OnNode {
    # Runs a script block on a node (or on the cluster name's owner node); values go in -ArgumentList, never into code.
    param([Parameter(Mandatory)] [string] $Node, [Parameter(Mandatory)] [scriptblock] $ScriptBlock, [object[]] $ArgumentList = @())
    Invoke-Command -ComputerName $Node -ScriptBlock $ScriptBlock -ArgumentList $ArgumentList @CredentialArgs
}
"""),
    _chunk("Test-NodeUpgraded", r"""
function Test-NodeUpgraded {
    # A node on build 25398 or later runs 23H2: its OS steps are skipped.
    param([Parameter(Mandatory)] [string] $Node)
    try {
        $build = Invoke-OnNode -Node $Node -ScriptBlock { [System.Environment]::OSVersion.Version.Build }
        return ([int]$build -ge $TargetBuild)
    }
    catch { return $false }
}
function Test-AllNodesUpgraded {
    foreach ($node in $PlanNodes) {
        if (-not (Test-NodeUpgraded -Node $node)) { return $false }
    }
    return $true
}
""", "Invoke-OnNode"),
    _chunk("Write-CauSubSteps", r"""
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
""", "Test-NodeUpgraded", "Invoke-NodeResume", "Get-StorageProblem", "Write-Journal"),
    _chunk("Get-StorageProblem", r"""
function Get-StorageProblem {
    # What keeps storage from being healthy: unfinished storage jobs and virtual disks that are not Healthy [H-maint].
    $session = New-CimSession -ComputerName $ClusterName @CredentialArgs
    try {
        $jobs = @(Get-StorageJob -CimSession $session | Where-Object { [string]$_.JobState -ne 'Completed' })
        $disks = @(Get-VirtualDisk -CimSession $session | Where-Object { [string]$_.HealthStatus -ne 'Healthy' })
    }
    finally {
        Remove-CimSession -CimSession $session -WhatIf:$false -Confirm:$false
    }
    foreach ($job in $jobs) { 'storage job {0} is {1}' -f $job.Name, $job.JobState }
    foreach ($disk in $disks) { 'virtual disk {0} is {1}' -f $disk.FriendlyName, $disk.HealthStatus }
}
function Wait-StorageHealthy {
    # Only one fault domain may be down at a time: wait for the repair before anything else goes down [H-maint], [W-resync].
    param([Parameter(Mandatory)] [int] $TimeoutMinutes)
    Wait-Until -What 'the storage repair jobs to finish and every virtual disk to be Healthy' -TimeoutMinutes $TimeoutMinutes -Condition { @(Get-StorageProblem).Count -eq 0 }
}
""", "Wait-Until"),
    _chunk("Invoke-NodeDrain", r"""
function Invoke-NodeDrain {
    # Pause and drain, bounded; then nothing may stay online on the node [A-other], [H-maint].
    param([Parameter(Mandatory)] [string] $Node, [Parameter(Mandatory)] [int] $TimeoutMinutes)
    $problems = @(Get-StorageProblem)
    if ($problems.Count -gt 0) {
        throw ('storage is not healthy, so {0} must not go down: {1}' -f $Node, ($problems -join '; '))
    }
    $null = Suspend-ClusterNode -Name $Node -Cluster $ClusterName -Drain -Confirm:$false
    Wait-Until -What ('{0} to finish draining' -f $Node) -TimeoutMinutes $TimeoutMinutes -Condition {
        $state = [string](Get-ClusterNode -Name $Node -Cluster $ClusterName).DrainStatus
        if ($state -eq 'Failed') { throw ('draining {0} failed: see which roles could not move (Get-ClusterGroup)' -f $Node) }
        $state -eq 'Completed'
    }
    $left = @(Get-ClusterGroup -Cluster $ClusterName | Where-Object { [string]$_.OwnerNode -eq $Node -and [string]$_.State -eq 'Online' })
    if ($left.Count -gt 0) {
        throw ('{0} still hosts online roles after the drain: {1}' -f $Node, (@($left | ForEach-Object { $_.Name }) -join ', '))
    }
}
function Test-NodePaused {
    param([Parameter(Mandatory)] [string] $Node)
    [string](Get-ClusterNode -Name $Node -Cluster $ClusterName).State -eq 'Paused'
}
""", "Get-StorageProblem", "Wait-Until"),
    _chunk("Invoke-NodeResume", r"""
function Invoke-NodeResume {
    param([Parameter(Mandatory)] [string] $Node)
    $null = Resume-ClusterNode -Name $Node -Cluster $ClusterName -Failback Immediate
}
function Test-NodeUp {
    param([Parameter(Mandatory)] [string] $Node)
    try { return ([string](Get-ClusterNode -Name $Node -Cluster $ClusterName).State -eq 'Up') } catch { return $false }
}
"""),
    _chunk("Invoke-NodeRestart", r"""
function Invoke-NodeRestart {
    # Restart-Computer -Wait -For PowerShell returns when remoting answers again; -Timeout bounds the wait.
    param([Parameter(Mandatory)] [string] $Node, [Parameter(Mandatory)] [int] $TimeoutMinutes)
    try {
        Restart-Computer -ComputerName $Node -Force -Wait -For PowerShell -Timeout ($TimeoutMinutes * 60) -Delay 15 -Confirm:$false @CredentialArgs
    }
    catch {
        $script:TimedOut = $true
        throw ('{0} did not answer within {1} min of its restart: check its console (BMC). {2}' -f $Node, $TimeoutMinutes, $_)
    }
}
"""),
    _chunk("Set-UpgradeRegistry", r"""
function Set-UpgradeRegistry {
    # RefsEnableMetadataValidation = 0 and Vid\Parameters SkipSmallLocalAllocations = 0, the key created without -Force [A-ps], [S-lm].
    param([Parameter(Mandatory)] [string] $Node)
    Invoke-OnNode -Node $Node -ScriptBlock {
        $ErrorActionPreference = 'Stop'
        Set-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\FileSystem' -Name 'RefsEnableMetadataValidation' -Value 0 -Type DWord
        $vid = 'HKLM:\SYSTEM\CurrentControlSet\Services\Vid\Parameters'
        if (-not (Test-Path -Path $vid)) { $null = New-Item -Path $vid }
        Set-ItemProperty -Path $vid -Name 'SkipSmallLocalAllocations' -Value 0 -Type DWord
    }
}
function Test-UpgradeRegistry {
    param([Parameter(Mandatory)] [string] $Node)
    Invoke-OnNode -Node $Node -ScriptBlock {
        $refs = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\FileSystem' -Name 'RefsEnableMetadataValidation' -ErrorAction SilentlyContinue
        $vid = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Services\Vid\Parameters' -Name 'SkipSmallLocalAllocations' -ErrorAction SilentlyContinue
        ($null -ne $refs) -and ($refs.RefsEnableMetadataValidation -eq 0) -and ($null -ne $vid) -and ($vid.SkipSmallLocalAllocations -eq 0)
    }
}
""", "Invoke-OnNode"),
    _chunk("BitLocker", r"""
function Suspend-NodeBitLocker {
    # RebootCount 0: suspended until Resume-BitLocker, so no recovery prompt halts a reboot [A-val].
    param([Parameter(Mandatory)] [string] $Node)
    Invoke-OnNode -Node $Node -ScriptBlock { $ErrorActionPreference = 'Stop'; $null = Suspend-BitLocker -MountPoint 'C:' -RebootCount 0 }
}
function Resume-NodeBitLocker {
    param([Parameter(Mandatory)] [string] $Node)
    Invoke-OnNode -Node $Node -ScriptBlock { $ErrorActionPreference = 'Stop'; $null = Resume-BitLocker -MountPoint 'C:' }
}
function Get-NodeBitLockerStatus {
    param([Parameter(Mandatory)] [string] $Node)
    Invoke-OnNode -Node $Node -ScriptBlock { [string](Get-BitLockerVolume -MountPoint 'C:').ProtectionStatus }
}
""", "Invoke-OnNode"),
    _chunk("Test-NodeMedia", r"""
function Test-NodeMedia {
    # The extracted ISO must be at the same local path on every node, with setup.exe in it [A-ps].
    param([Parameter(Mandatory)] [string] $Node)
    Invoke-OnNode -Node $Node -ArgumentList @($PlanMediaPath) -ScriptBlock {
        param($MediaPath)
        Test-Path -LiteralPath (Join-Path -Path $MediaPath -ChildPath 'setup.exe') -PathType Leaf
    }
}
""", "Invoke-OnNode"),
    _chunk("Start-NodeSetup", r"""
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
"""),
    _chunk("Get-ClusterWide", r"""
function Get-HciRegistration {
    Invoke-OnNode -Node $ClusterName -ScriptBlock { Get-AzureStackHCI }
}
function Test-SolutionInstalled {
    # Any output of Get-StampInformation means the solution is installed [A-ps].
    $stamp = Invoke-OnNode -Node $ClusterName -ScriptBlock {
        if (Get-Command -Name 'Get-StampInformation' -ErrorAction SilentlyContinue) { Get-StampInformation }
    }
    return [bool]$stamp
}
""", "Invoke-OnNode"),
    _chunk("Test-FunctionalLevelRaised", r"""
function Test-FunctionalLevelRaised {
    # Inference from clusapi: a node's highest version carries its major version in the high 16 bits; the level is
    # raised when no node supports more than the cluster runs. Any doubt returns $false, so the step runs.
    try {
        $level = [int64](Get-Cluster -Name $ClusterName).ClusterFunctionalLevel
        foreach ($node in @(Get-ClusterNode -Cluster $ClusterName)) {
            if (([int64]$node.NodeHighestVersion -shr 16) -gt $level) { return $false }
        }
        return $true
    }
    catch { return $false }
}
"""),
    _chunk("Get-NetIntentProblem", r"""
function Get-NetIntentProblem {
    # Every node (or the one asked for) needs at least one intent, and every intent must be Success [A-atc]:
    # a node without any intent is not configured, whatever the others report.
    param([string] $Node = '')
    $status = @(Invoke-OnNode -Node $ClusterName -ArgumentList @($ClusterName) -ScriptBlock {
        param($Cluster)
        Get-NetIntentStatus -ClusterName $Cluster
    })
    $hosts = @($PlanNodes)
    if ($Node) { $hosts = @($Node) }
    foreach ($name in $hosts) {
        $mine = @($status | Where-Object { [string]$_.Host -eq $name })
        if ($mine.Count -eq 0) {
            'no Network ATC intent on {0}' -f $name
            continue
        }
        foreach ($intent in $mine) {
            if ([string]$intent.ConfigurationStatus -ne 'Success') {
                'intent {0} on {1} is {2}' -f $intent.IntentName, $intent.Host, $intent.ConfigurationStatus
            }
        }
    }
}
""", "Invoke-OnNode"),
    _chunk("Assert-AzureInputs", r"""
function Assert-AzureInputs {
    # The Azure steps need a signed-in Az context (Connect-AzAccount) and -ResourceGroupName; no secret is stored here.
    if (-not $ResourceGroupName) {
        Stop-Upgrade -Code 2 -Message ('{0} needs -ResourceGroupName (the resource group of the cluster and its Arc machines)' -f $script:CurrentStep)
    }
    if (-not (Get-AzContext)) {
        Stop-Upgrade -Code 2 -Message ('{0} needs an Azure sign-in: run Connect-AzAccount, then rerun this script' -f $script:CurrentStep)
    }
}
""", "Stop-Upgrade"),
    _chunk("Invoke-SolutionDeployment", r"""
function Invoke-SolutionDeployment {
    # The ARM route of the solution upgrade: the upgrade-cluster template, Validate then Deploy [A-arm], [Q-tpl].
    param([Parameter(Mandatory)] [string] $Mode, [Parameter(Mandatory)] [int] $TimeoutMinutes)
    Assert-AzureInputs
    if (-not $TemplateParameterFile -or -not (Test-Path -LiteralPath $TemplateParameterFile)) {
        Stop-Upgrade -Code 2 -Message ('{0} needs -TemplateParameterFile: the upgrade-cluster parameter file with your tenant, subscription and secret references' -f $script:CurrentStep)
    }
    # The plan's values must match the file's plain values; Key Vault references ({"reference": ...}) have no
    # value to compare. The file itself goes to ARM, so the references resolve there.
    $document = ConvertFrom-Json -InputObject ([System.IO.File]::ReadAllText($TemplateParameterFile))
    $fileValues = @{}
    if ($document.PSObject.Properties['parameters']) {
        foreach ($property in $document.parameters.PSObject.Properties) {
            $entry = $property.Value
            if ($null -ne $entry -and $entry.PSObject.Properties['value']) { $fileValues[$property.Name] = $entry.value }
        }
    }
    foreach ($name in $PlanTemplateValues.Keys) {
        if ($fileValues.ContainsKey($name) -and [string]$fileValues[$name] -ne [string]$PlanTemplateValues[$name]) {
            throw ('the parameter file sets {0} = {1} but the plan says {2}: fix the file or re-run hciplan plan' -f $name, $fileValues[$name], $PlanTemplateValues[$name])
        }
    }
    # One deployment name per mode: a rerun (after a timeout, say) follows the deployment already in Azure
    # instead of starting a second one with the same name.
    $name = 'hciplan-upgrade-{0}' -f $Mode.ToLowerInvariant()
    $existing = Get-AzResourceGroupDeployment -ResourceGroupName $ResourceGroupName -Name $name -ErrorAction SilentlyContinue
    $state = ''
    if ($existing) { $state = [string]$existing.ProvisioningState }
    if ($state -eq 'Succeeded') {
        Write-Host ('the {0} deployment {1} already succeeded in an earlier run' -f $Mode, $name)
        return
    }
    $job = $null
    if ($state -in @('', 'Failed', 'Canceled')) {
        # deploymentMode is a template parameter: given on the command line it overrides the file's value.
        $job = New-AzResourceGroupDeployment -Name $name -ResourceGroupName $ResourceGroupName -TemplateUri $TemplateUri -TemplateParameterFile $TemplateParameterFile -deploymentMode $Mode -AsJob -Confirm:$false
    }
    else {
        Write-Host ('the {0} deployment {1} is already {2} in Azure (an earlier run started it): following it' -f $Mode, $name, $state)
    }
    $seen = @{ State = $state }
    Wait-Until -What ('the {0} deployment {1} to finish (it goes on in Azure; a rerun follows it instead of starting another)' -f $Mode, $name) -TimeoutMinutes $TimeoutMinutes -Condition {
        if ($job -and [string]$job.State -in @('NotStarted', 'Running')) { return $false }
        $deployment = Get-AzResourceGroupDeployment -ResourceGroupName $ResourceGroupName -Name $name -ErrorAction SilentlyContinue
        if (-not $deployment) {
            if ($job) {
                $null = Receive-Job -Job $job -Keep
                throw ('the {0} deployment {1} was not created' -f $Mode, $name)
            }
            return $false
        }
        $seen.State = [string]$deployment.ProvisioningState
        $seen.State -in @('Succeeded', 'Failed', 'Canceled')
    }
    if ($job) { Remove-Job -Job $job -Confirm:$false }
    if ($seen.State -ne 'Succeeded') {
        throw ('the {0} deployment ended {1}; logs: C:\CloudDeployment\Logs on the seed node [A-inst]' -f $Mode, $seen.State)
    }
}
""", "Assert-AzureInputs", "Stop-Upgrade", "Wait-Until"),
)}


def closure(names) -> list[str]:
    """The chunks `names` need, dependencies first, each once, in a stable order."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for dep in CHUNKS[name].needs:
            visit(dep)
        ordered.append(name)

    for name in sorted(set(names)):
        visit(name)
    return ordered
