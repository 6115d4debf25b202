# bitlocker.ps1: part of the helper library of the hciplan upgrade script (Windows PowerShell 5.1).
# BitLocker on the nodes' C: drive: suspend, resume, the status, the re-check before every restart the
# script causes, and the notice when a run stops while protection is still suspended.
# The design (docs/powershell.md, "BitLocker"): the plan suspends C: once in P1 with -RebootCount 0 (no
# count can be known ahead for passes that may be weeks apart) and resumes it in P7 [A-val], [A-inst]. So
# that a resumed protector never halts a restart at the recovery prompt, every step that restarts a node
# first re-checks C: and suspends it again if protection came back; and so that a suspension is never
# forgotten, a run that stops early names the nodes still suspended and how to resume them.
# hciplan copies into a script only the functions it calls (hciplan/backends/powershell/library.py); code
# outside a function is never copied. Plan values come from the script's data region, read by name.

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

function Assert-BitLockerSuspended {
    # Before a restart: C: protection must still be suspended (ProtectionStatus Off), or the node may stop at
    # the BitLocker recovery prompt [A-val]. If it came back on (resumed by hand, by policy, or by a restart
    # that used up a reboot count), suspend it again with -RebootCount 0, say so, and check it.
    param([Parameter(Mandatory)] [string[]] $Node)
    foreach ($name in $Node) {
        $status = Get-NodeBitLockerStatus -Node $name
        if ($status -eq 'Off') { continue }
        Write-Warning ('BitLocker protection on C: of {0} is {1}, no longer suspended: suspending it again before the restart' -f $name, $status)
        Suspend-NodeBitLocker -Node $name
        $status = Get-NodeBitLockerStatus -Node $name
        if ($status -ne 'Off') {
            throw ('BitLocker on C: of {0} is still {1} after Suspend-BitLocker: a restart could stop at the recovery prompt. Suspend it on the node (Suspend-BitLocker -MountPoint C: -RebootCount 0), then rerun' -f $name, $status)
        }
    }
}

function Write-BitLockerNotice {
    # For a run that stops before the end (Stop-Upgrade with a non-zero code): the nodes whose C: is encrypted
    # but has its protection suspended stay unprotected until Resume-BitLocker, which the plan does only at
    # its end (P7). Name them and say how to resume. Read-only, never throws: a node that cannot be reached is
    # named as unchecked. The rehearsal changed nothing, so it says nothing.
    if ($script:Rehearsal) { return }
    $suspended = @()
    $unchecked = @()
    foreach ($name in $PlanNodes) {
        try {
            $volume = Invoke-OnNode -Node $name -ScriptBlock {
                $c = Get-BitLockerVolume -MountPoint 'C:'
                [pscustomobject]@{ Protection = [string]$c.ProtectionStatus; Volume = [string]$c.VolumeStatus }
            }
            if ($volume.Protection -eq 'Off' -and $volume.Volume -ne 'FullyDecrypted') { $suspended += $name }
        }
        catch { $unchecked += $name }
    }
    if ($suspended.Count -gt 0) {
        Write-Warning ('BitLocker protection of C: stays suspended on {0} until it is resumed: the plan resumes it only at its end (P7). If the upgrade will not go on soon, resume it on each of those nodes with Resume-BitLocker -MountPoint C: (for example Invoke-Command -ComputerName <node> {{ Resume-BitLocker -MountPoint C: }}); the next restart the script makes suspends it again.' -f ($suspended -join ', '))
    }
    if ($unchecked.Count -gt 0) {
        Write-Warning ('BitLocker on C: could not be checked on {0}: check Get-BitLockerVolume -MountPoint C: there; a suspended protector stays suspended until Resume-BitLocker -MountPoint C:.' -f ($unchecked -join ', '))
    }
}
