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

function Assert-Orchestrator {
    # CAU's remote coordinator runs on a Windows Server 2022 machine outside the cluster [A-ps], [W-invoke]
    # (Start-HciRun already refuses a cluster node by name). A rehearsal only warns, so it can still list the steps.
    $os = Get-CimInstance -ClassName 'Win32_OperatingSystem'
    if ([string]$os.BuildNumber -ne '20348') {
        $message = ('this orchestrator runs {0} (build {1}): start the CAU run from a Windows Server 2022 machine (build 20348) outside the cluster, with the failover clustering and CAU tools [A-ps], [W-invoke]' -f $os.Caption, $os.BuildNumber)
        if ($script:Rehearsal) { Write-Warning ('a real run would stop here: {0}' -f $message) }
        else { Stop-Upgrade -Code 2 -Message $message }
    }
}

function Test-CloudManagementGroup {
    # The "Cloud Management" cluster group; missing (with no SystemAssigned identity) means the registration needs a repair [A-ps], [S-cm].
    [bool](@(Get-ClusterGroup -Cluster $ClusterName | Where-Object { [string]$_.Name -eq 'Cloud Management' }).Count -gt 0)
}

function Assert-AzureSignIn {
    if (-not (Get-AzContext)) {
        Stop-Upgrade -Code 2 -Message ('{0} needs an Azure sign-in: run Connect-AzAccount, then rerun this script' -f $script:CurrentStep)
    }
}

function Get-RegistrationResource {
    # The Azure resource of the registration: Get-AzureStackHCI's AzureResourceUri, read with its properties [A-ps].
    $uri = [string](Get-HciRegistration).AzureResourceUri
    if (-not $uri) { throw 'Get-AzureStackHCI shows no AzureResourceUri: the cluster is not registered' }
    Get-AzResource -ResourceId $uri -ExpandProperties
}

function Test-RegistrationRepairNeeded {
    # [A-ps]: repair only if BOTH hold: the Cloud Management cluster group is missing and the cluster resource's
    # identity lacks SystemAssigned. A healthy cluster (the group is there) needs no Azure sign-in to tell.
    if (Test-CloudManagementGroup) { return $false }
    Assert-AzureSignIn
    $resource = Get-RegistrationResource
    $identity = ''
    if ($resource.PSObject.Properties['Identity'] -and $resource.Identity) { $identity = [string]$resource.Identity.Type }
    if ($identity -match 'SystemAssigned') {
        Write-Warning ('the Cloud Management cluster group is missing, but the cluster resource has a {0} identity, so the documented registration repair does not apply: check the registration for OutOfPolicy first [S-cm]' -f $identity)
        return $false
    }
    return $true
}

function Invoke-RegistrationRepair {
    # Register-AzStackHCI -RepairRegistration as the 22H2 -> 23H2 doc runs it (tenant, subscription, a node) [A-ps]; it
    # reads the resource name and group from the node's registration. The Cloud Management group then comes back in
    # about 15 minutes [S-cm]. The condition is checked again here: a probe that failed must not start a repair.
    param([Parameter(Mandatory)] [int] $TimeoutMinutes)
    if (-not (Test-RegistrationRepairNeeded)) { return }
    $resource = Get-RegistrationResource
    $subscription = ([string]$resource.ResourceId).Split('/')[2]
    $tenant = [string](Get-AzContext).Tenant.Id
    Register-AzStackHCI -TenantId $tenant -SubscriptionId $subscription -Region ([string]$resource.Location) -ComputerName $PlanNodes[0] -RepairRegistration -Confirm:$false @CredentialArgs
    Wait-Until -What 'the Cloud Management cluster group after the registration repair (about 15 min) [S-cm]' -TimeoutMinutes $TimeoutMinutes -Condition { Test-CloudManagementGroup }
}

function Get-ArcMachineProblem {
    # Every node must be an Arc machine in the resource group, and Connected, before the readiness validation [A-val], [A-arm].
    foreach ($node in $PlanNodes) {
        try { $machine = Get-AzConnectedMachine -ResourceGroupName $ResourceGroupName -Name $node }
        catch {
            'no Arc machine {0} found in resource group {1}: {2}' -f $node, $ResourceGroupName, $_
            continue
        }
        if (-not $machine) { 'no Arc machine {0} in resource group {1}' -f $node, $ResourceGroupName }
        elseif ([string]$machine.Status -ne 'Connected') { 'the Arc machine {0} is {1}, not Connected' -f $node, $machine.Status }
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
                # adapters on Private or Internal switches (guest clusters, labs) are deliberate: only External counts
                if (-not $switch) { 'VM {0}: network adapter {1} is not connected' -f $adapter.VMName, $adapter.Name }
                elseif ($switches -contains $switch -and $Names -notcontains $switch) { 'VM {0}: network adapter {1} is on vSwitch {2}, not a Network ATC one' -f $adapter.VMName, $adapter.Name, $switch }
            }
        })
        foreach ($problem in $found) { '{0}: {1}' -f $node, $problem }
    }
}
