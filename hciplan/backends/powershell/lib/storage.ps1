# storage.ps1: part of the helper library of the hciplan upgrade script (Windows PowerShell 5.1).
# Storage health: what keeps storage from being healthy, and the bounded wait for it.
# hciplan copies into a script only the functions it calls (hciplan/backends/powershell/library.py); code
# outside a function is never copied. Plan values come from the script's data region, read by name.

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
