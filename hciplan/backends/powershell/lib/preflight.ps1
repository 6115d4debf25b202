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
