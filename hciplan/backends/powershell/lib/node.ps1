# node.ps1: part of the helper library of the hciplan upgrade script (Windows PowerShell 5.1).
# Work on one node: remoting, drain, resume, restart, the upgrade registry keys, and the checks that prove
# each of them done (BitLocker is in bitlocker.ps1).
# hciplan copies into a script only the functions it calls (hciplan/backends/powershell/library.py); code
# outside a function is never copied. Plan values come from the script's data region, read by name.

function Invoke-OnNode {
    # Runs a script block on a node (or on the cluster name's owner node); values go in -ArgumentList, never into code.
    param([Parameter(Mandatory)] [string] $Node, [Parameter(Mandatory)] [scriptblock] $ScriptBlock, [object[]] $ArgumentList = @())
    Invoke-Command -ComputerName $Node -ScriptBlock $ScriptBlock -ArgumentList $ArgumentList @CredentialArgs
}

function Get-NodeBuild {
    # The node's OS build number (the major build: 20349 is 22H2, 25398 is 23H2, 26100 is 24H2).
    param([Parameter(Mandatory)] [string] $Node)
    [int](Invoke-OnNode -Node $Node -ScriptBlock { [System.Environment]::OSVersion.Version.Build })
}

function Test-NodeUpgraded {
    # A node on the 23H2 build family (major build exactly $TargetBuild, 25398) runs 23H2: its OS steps are
    # skipped. A later build (26100 is 24H2) is not this plan's target, so it does not count [A-ps]; a build
    # that is neither the target nor 22H2's 20349 is reported.
    param([Parameter(Mandatory)] [string] $Node)
    try { $build = Get-NodeBuild -Node $Node }
    catch { return $false }
    if ($build -ne $TargetBuild -and $build -ne 20349) {
        Write-Warning ('{0} runs build {1}, neither 22H2 (20349) nor the 23H2 build this plan upgrades to ({2})' -f $Node, $build, $TargetBuild)
    }
    return ($build -eq $TargetBuild)
}

function Assert-NodeUpgraded {
    # A post-condition that names the build it saw when the node is not on the 23H2 build.
    param([Parameter(Mandatory)] [string] $Node)
    $build = Get-NodeBuild -Node $Node
    if ($build -ne $TargetBuild) {
        throw ('{0} runs build {1}, not the 23H2 build {2}: check the feature update on its console (C:\$WINDOWS.~BT\Sources\Panther\setuperr.log)' -f $Node, $build, $TargetBuild)
    }
    return $true
}

function Test-AllNodesUpgraded {
    foreach ($node in $PlanNodes) {
        if (-not (Test-NodeUpgraded -Node $node)) { return $false }
    }
    return $true
}

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
    # A drain moves the roles, not the cluster's own groups: the core cluster group ("Cluster Group"), Available
    # Storage, the S2D pool's group and the CAU role stay with a paused node by design, and fail over when it
    # restarts. They are excluded by GroupType (not by name: group names are localized and can be renamed)
    # rather than moved first with Move-ClusterGroup: the documented procedure does not move them [A-other],
    # [H-maint], and moving the core group is one more cluster-name outage that buys nothing.
    $core = @('Cluster', 'AvailableStorage', 'ClusterStoragePool', 'ClusterUpdateAgent')
    # Anything not Offline counts (PartialOnline, Pending, Failed groups are still on the node, not only Online ones).
    $left = @(Get-ClusterGroup -Cluster $ClusterName | Where-Object { [string]$_.OwnerNode -eq $Node -and [string]$_.State -ne 'Offline' -and [string]$_.GroupType -notin $core })
    if ($left.Count -gt 0) {
        throw ('{0} still hosts online roles after the drain: {1}' -f $Node, (@($left | ForEach-Object { $_.Name }) -join ', '))
    }
}

function Test-NodePaused {
    param([Parameter(Mandatory)] [string] $Node)
    [string](Get-ClusterNode -Name $Node -Cluster $ClusterName).State -eq 'Paused'
}

function Invoke-NodeResume {
    param([Parameter(Mandatory)] [string] $Node)
    $null = Resume-ClusterNode -Name $Node -Cluster $ClusterName -Failback Immediate
}

function Test-NodeUp {
    param([Parameter(Mandatory)] [string] $Node)
    try { return ([string](Get-ClusterNode -Name $Node -Cluster $ClusterName).State -eq 'Up') } catch { return $false }
}

function Invoke-NodeRestart {
    # Restart a drained node, bounded by $TimeoutMinutes in all (the plan's bound for the step).
    # -Protocol WSMan: Windows PowerShell 5.1 restarts over DCOM by default, which the firewall blocks until CAU
    # opens its rules; remoting (WSMan) is what the script already uses. -Wait -For PowerShell returns when
    # remoting answers, which is before the cluster service has rejoined: so the step also waits until the
    # node shows Paused in Get-ClusterNode again (it was drained) and, after a feature update (-AfterSetup),
    # until setup's windeploy.exe / SetupHost.exe no longer runs on it, before the resume step goes on.
    param([Parameter(Mandatory)] [string] $Node, [Parameter(Mandatory)] [int] $TimeoutMinutes, [switch] $AfterSetup)
    # Only a drained node may restart: its VMs are gone and its storage copies are expected to go stale.
    if (-not (Test-NodePaused -Node $Node)) { throw ('{0} is not paused (drained): refusing to restart it; drain it first (the pass''s drain step)' -f $Node) }
    $deadline = [datetimeoffset]::Now.AddMinutes($TimeoutMinutes)
    try {
        Restart-Computer -ComputerName $Node -Protocol WSMan -Force -Wait -For PowerShell -Timeout ($TimeoutMinutes * 60) -Delay 15 -Confirm:$false @CredentialArgs
    }
    catch {
        $script:TimedOut = $true
        throw ('{0} did not answer within {1} min of its restart: check its console (BMC). {2}' -f $Node, $TimeoutMinutes, $_)
    }
    if ($AfterSetup) {
        Wait-Until -What ('setup (windeploy.exe, SetupHost.exe) to finish on {0}' -f $Node) -TimeoutMinutes (Get-MinutesLeft -Deadline $deadline) -Condition {
            $busy = Invoke-OnNode -Node $Node -ScriptBlock {
                @(Get-CimInstance -ClassName 'Win32_Process' -Filter 'Name = ''windeploy.exe'' OR Name = ''SetupHost.exe''').Count
            }
            [int]$busy -eq 0
        }
    }
    Wait-Until -What ('{0} to rejoin the cluster (Paused in Get-ClusterNode)' -f $Node) -TimeoutMinutes (Get-MinutesLeft -Deadline $deadline) -Condition {
        Test-NodePaused -Node $Node
    }
}

function Get-MinutesLeft {
    # Whole minutes left until a step's deadline, at least 1 (so a last poll still happens).
    param([Parameter(Mandatory)] [datetimeoffset] $Deadline)
    [int][math]::Max(1, [math]::Ceiling(($Deadline - [datetimeoffset]::Now).TotalMinutes))
}

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
