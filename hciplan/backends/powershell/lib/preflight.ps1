# preflight.ps1: part of the helper library of the hciplan upgrade script (Windows PowerShell 5.1).
# Read-only checks of cluster-wide state, used by the preflight, probes and verifications: the
# registration, the solution, the functional level and the Network ATC intents.
# hciplan copies into a script only the functions it calls (hciplan/backends/powershell/library.py); code
# outside a function is never copied. Plan values come from the script's data region, read by name.

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

function Get-AtcSwitchProblem {
    # After the first node's Network ATC pass [A-atc]: every node must have the external vSwitch under the names
    # the first node's switches now carry (the Network ATC names), and every VM network adapter must be connected
    # to one of them; otherwise live migration to the configured nodes fails. One line per problem.
    param([Parameter(Mandatory)] [string] $FirstNode)
    $names = @(Invoke-OnNode -Node $FirstNode -ScriptBlock { Get-VMSwitch -SwitchType External | ForEach-Object { [string]$_.Name } })
    if ($names.Count -eq 0) {
        'no external vSwitch on {0}, the first node Network ATC configured' -f $FirstNode
        return
    }
    foreach ($node in $PlanNodes) {
        $found = @(Invoke-OnNode -Node $node -ArgumentList @(, $names) -ScriptBlock {
            param($Names)
            $switches = @(Get-VMSwitch -SwitchType External | ForEach-Object { [string]$_.Name })
            foreach ($name in $Names) { if ($switches -notcontains $name) { 'vSwitch {0} is missing' -f $name } }
            foreach ($adapter in @(Get-VM | Get-VMNetworkAdapter)) {
                $switch = [string]$adapter.SwitchName
                if (-not $switch) { 'VM {0}: network adapter {1} is not connected' -f $adapter.VMName, $adapter.Name }
                elseif ($Names -notcontains $switch) { 'VM {0}: network adapter {1} is on vSwitch {2}, not a Network ATC one' -f $adapter.VMName, $adapter.Name, $switch }
            }
        })
        foreach ($problem in $found) { '{0}: {1}' -f $node, $problem }
    }
}
