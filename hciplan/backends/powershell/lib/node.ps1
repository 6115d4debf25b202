# node.ps1: part of the helper library of the hciplan upgrade script (Windows PowerShell 5.1).
# Work on one node: remoting, drain, resume, restart, the upgrade registry keys, BitLocker, and the checks
# that prove each of them done.
# hciplan copies into a script only the functions it calls (hciplan/backends/powershell/library.py); code
# outside a function is never copied. Plan values come from the script's data region, read by name.

function Invoke-OnNode {
    # Runs a script block on a node (or on the cluster name's owner node); values go in -ArgumentList, never into code.
    param([Parameter(Mandatory)] [string] $Node, [Parameter(Mandatory)] [scriptblock] $ScriptBlock, [object[]] $ArgumentList = @())
    Invoke-Command -ComputerName $Node -ScriptBlock $ScriptBlock -ArgumentList $ArgumentList @CredentialArgs
}

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

function Invoke-NodeResume {
    param([Parameter(Mandatory)] [string] $Node)
    $null = Resume-ClusterNode -Name $Node -Cluster $ClusterName -Failback Immediate
}

function Test-NodeUp {
    param([Parameter(Mandatory)] [string] $Node)
    try { return ([string](Get-ClusterNode -Name $Node -Cluster $ClusterName).State -eq 'Up') } catch { return $false }
}

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
