# azure.ps1: part of the helper library of the hciplan upgrade script (Windows PowerShell 5.1).
# The Azure side of the solution upgrade: the inputs it needs and the upgrade-cluster ARM deployment.
# hciplan copies into a script only the functions it calls (hciplan/backends/powershell/library.py); code
# outside a function is never copied. Plan values come from the script's data region, read by name.

function Assert-AzureInputs {
    # The Azure steps need a signed-in Az context (Connect-AzAccount) and -ResourceGroupName; no secret is stored here.
    if (-not $ResourceGroupName) {
        Stop-Upgrade -Code 2 -Message ('{0} needs -ResourceGroupName (the resource group of the cluster and its Arc machines)' -f $script:CurrentStep)
    }
    if (-not (Get-AzContext)) {
        Stop-Upgrade -Code 2 -Message ('{0} needs an Azure sign-in: run Connect-AzAccount, then rerun this script' -f $script:CurrentStep)
    }
}

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
    # A validation that passed in an earlier run may predate remediation or a changed parameter file: when this
    # step runs (it is not journalled done), it validates again. A deployment that succeeded is never repeated.
    if ($state -eq 'Succeeded' -and $Mode -eq 'Deploy') {
        Write-Host ('the {0} deployment {1} already succeeded in an earlier run' -f $Mode, $name)
        return
    }
    $job = $null
    if ($state -in @('', 'Failed', 'Canceled') -or ($state -eq 'Succeeded' -and $Mode -eq 'Validate')) {
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

function Test-ReadinessFailed {
    # A failed Environment Checker test, whatever its Severity [A-val]: the readiness article's -PassThru sample
    # reports blocking tests (OS is 23H2, Network ATC, required features, storage pool) as Warning. Status is the
    # enum's name ('FAILURE') or, in the checker's JSON result files, its value (1); a test whose AdditionalData
    # reports FAILURE failed too (the checker's result files show one with a top-level 0 and a FAILURE detail).
    param([Parameter(Mandatory)] [object] $Result)
    $status = $Result.PSObject.Properties['Status']
    if ($status -and [string]$status.Value -in @('FAILURE', '1')) { return $true }
    $data = $Result.PSObject.Properties['AdditionalData']
    if (-not $data -or $null -eq $data.Value) { return $false }
    $detail = $data.Value
    if ($detail -is [System.Collections.IDictionary]) { return [string]$detail['Status'] -eq 'FAILURE' }
    $inner = $detail.PSObject.Properties['Status']
    return [bool]($inner -and [string]$inner.Value -eq 'FAILURE')
}

function Get-ReadinessField {
    # The first of these properties a readiness result has (under Set-StrictMode a missing one would throw).
    param([Parameter(Mandatory)] [object] $Result, [Parameter(Mandatory)] [string[]] $Names)
    foreach ($name in $Names) {
        $property = $Result.PSObject.Properties[$name]
        if ($property -and $null -ne $property.Value) { return [string]$property.Value }
    }
    return '?'
}

function Test-TpmReadinessWarning {
    # The documented non-blocking tests [A-val]: a TPM property test (Name, Title or DisplayName mentions TPM and
    # one of the properties in $Properties, the plan's list from hciplan/backends/azurelocal.py).
    param([Parameter(Mandatory)] [object] $Result, [Parameter(Mandatory)] [string[]] $Properties)
    $names = foreach ($field in @('Name', 'Title', 'DisplayName')) {
        $property = $Result.PSObject.Properties[$field]
        if ($property) { [string]$property.Value }
    }
    $text = @($names) -join ' '
    if ($text -notmatch 'TPM') { return $false }
    foreach ($name in $Properties) {
        if ($text -match ('(?<![A-Za-z]){0}(?![A-Za-z])' -f $name)) { return $true }
    }
    return $false
}

function Test-SolutionDeployed {
    # Azure is the authority on the solution upgrade [A-arm], [Q-tpl]: the Deploy deployment of the upgrade-cluster
    # template Succeeded, and the deploymentSettings resource it writes (Microsoft.AzureStackHCI/clusters/
    # deploymentSettings, 'default' under the template's clusterName) reports provisioningState Succeeded.
    # Get-StampInformation answering proves only that the solution bits are on the nodes, not that the upgrade ended.
    # Any doubt (no Azure sign-in, no deployment yet) returns $false, so the step runs and says what is missing.
    if (-not $ResourceGroupName) { return $false }
    $context = Get-AzContext
    if (-not $context) { return $false }
    $deployment = Get-AzResourceGroupDeployment -ResourceGroupName $ResourceGroupName -Name 'hciplan-upgrade-deploy' -ErrorAction SilentlyContinue
    if (-not $deployment -or [string]$deployment.ProvisioningState -ne 'Succeeded') { return $false }
    $cluster = $null
    if ($deployment.Parameters -and $deployment.Parameters.ContainsKey('clusterName')) { $cluster = [string]$deployment.Parameters['clusterName'].Value }
    if (-not $cluster) { return $false }
    $id = '/subscriptions/{0}/resourceGroups/{1}/providers/Microsoft.AzureStackHCI/clusters/{2}/deploymentSettings/default' -f $context.Subscription.Id, $ResourceGroupName, $cluster
    $settings = Get-AzResource -ResourceId $id -ExpandProperties -ErrorAction SilentlyContinue
    if (-not $settings -or -not $settings.Properties) { return $false }
    $state = $settings.Properties.PSObject.Properties['provisioningState']
    return [bool]($state -and [string]$state.Value -eq 'Succeeded')
}

function Test-LcmExtensionReady {
    # The AzureEdgeLifecycleManager extension of one node's Arc machine is installed and Succeeded [A-val].
    param([Parameter(Mandatory)] [string] $Node)
    Assert-AzureInputs
    $extension = Get-AzConnectedMachineExtension -ResourceGroupName $ResourceGroupName -MachineName $Node -Name 'AzureEdgeLifecycleManager' -ErrorAction SilentlyContinue
    return [bool]($extension -and [string]$extension.ProvisioningState -eq 'Succeeded')
}
