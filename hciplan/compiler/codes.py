"""Every diagnostic code hciplan can report, registered once, with its explanation.

The explanation is what `hciplan explain CODE` prints; the source tag points
into ../shared/domain.md (the "Sources" list) where the rule comes from.
Numbering: HCI0xx input and syntax, HCI1xx structure and types, HCI2xx
upgrade path and supported configurations, HCI3xx readiness, HCI4xx names,
HCI5xx availability, HCI6xx method, HCI7xx solution-upgrade inputs,
HCI8xx maintenance windows, HCI9xx safety proofs, HCI10xx simulation inputs
(the `timing` and `scenario` blocks, docs/simulation.md), HCI11xx the real
validator's results (`hciplan check --validation`, docs/validation.md), HCI12xx
fleet files (docs/fleet.md).
"""

from hciplan.compiler.diagnostics import Severity, register

E, W = Severity.ERROR, Severity.WARNING

# --- HCI0xx: reading and parsing -------------------------------------------
register("HCI001", E, "syntax error", """
The parser met a token it did not expect here. The message lists what would
have been valid at this point. Attributes are written `name = value`; blocks are
written `name "label" { ... }`.
""")
register("HCI002", E, "missing `=`", """
An attribute name is followed directly by a value. Write `name = value`, for
example `memory = 768GB`.
""")
register("HCI003", E, "unclosed block or list", """
The file ended while a `{` block or a `[` list was still open. Every `{` needs
a matching `}` and every `[` a matching `]`. The diagnostic points at the
opening bracket that was never closed.
""")
register("HCI004", E, "unknown unit", """
A number is followed by a unit hciplan does not know. Sizes take B, KB, MB,
GB, TB, PB or their synonyms KiB, MiB, GiB, TiB, PiB: all are powers of 1024,
as in PowerShell (1GB = 1024^3 bytes), so figures copied from PowerShell
output mean what they say. Durations take s, m, h, d and may be combined, as
in `1h30m`. Units are case-sensitive: `m` is minutes, `MB` megabytes.
""")
register("HCI005", E, "unterminated string", """
A quoted string has no closing `"` on the same line. Strings cannot span lines;
write a newline as `\\n`.
""")
register("HCI006", E, "unexpected character", """
The file contains a character that cannot start any token of the language
(for example `;`, `:` or `@` outside a string). Comments start with `#` or `//`,
or are written `/* ... */`; a `/*` without its `*/` is reported here too.
""")
register("HCI007", E, "unmatched closing bracket", """
A `}` or `]` closes nothing: there is no open block or list at this point.
Remove it, or look for an extra closing bracket earlier in the block.
""")
register("HCI008", E, "invalid escape in string", """
Inside a quoted string, a backslash starts an escape. Valid escapes are `\\"`,
`\\\\`, `\\n`, `\\t`, `\\r` and `\\uXXXX`. To write a Windows path, double each
backslash: `"C:\\\\Media\\\\23H2"`.
""")
register("HCI009", E, "file is not text", """
The file is not valid UTF-8 text, or it contains NUL bytes. hciplan files are
UTF-8 text; save the file as UTF-8 (a BOM is accepted).
""")
register("HCI010", E, "file too large", """
The file is larger than hciplan accepts (2 MiB). A description of even a
16-node cluster is a few kilobytes; a larger input is almost certainly the
wrong file.
""")

# --- HCI1xx: structure and types --------------------------------------------
register("HCI101", E, "unknown block", """
This block type is not part of the language at this place. See
docs/language.md for the blocks each block may contain.
""")
register("HCI102", E, "unknown attribute", """
This attribute is not defined for this block. See docs/language.md for the
attributes of each block, their types and defaults.
""")
register("HCI103", E, "wrong value type", """
The value has the wrong type for this attribute: for example a bare number
where a size with a unit is expected (`768` instead of `768GB`), or a string
where an enum identifier is expected (`"cloud"` instead of `cloud`).
""")
register("HCI104", E, "unknown enum value", """
The attribute takes one of a fixed set of identifiers; the value is not one of
them. The message lists the allowed values.
""")
register("HCI105", E, "missing required attribute", """
This block needs the named attribute and it has no default, because guessing
it would be unsafe (for example a node's memory or the cluster's witness).
""")
register("HCI106", E, "duplicate attribute", """
The same attribute is set twice in one block. Keep one of them.
""")
register("HCI107", E, "wrong number of labels", """
A block has the wrong number of labels: `node`, `volume`, `vm_group`, `pool`,
`window`, `cluster` and `upgrade` take one quoted name; `aks`, `arc_vms` and
`solution` take none.
""")
register("HCI108", E, "duplicate block", """
This block may appear only once in its parent (for example one `solution`
block per upgrade, one `pool` per cluster, one `cluster` per file).
""")
register("HCI109", E, "value out of range", """
The value has the right type but is outside the allowed range: an IPv4 octet
above 255, a prefix length above 32, a count below 1, a date that does not
exist or falls outside the years 1970 to 2500, or a number outside the
attribute's documented range.
""")
register("HCI110", E, "upgrade does not match the cluster", """
The file needs a `cluster` block, and the `upgrade` block's label must be the
cluster's name, so that a plan can never be applied to the wrong cluster.
""")

register("HCI111", E, "missing required block", """
This block needs at least one block of the named kind inside it: a `cluster`
needs at least one `node`. A cluster without nodes cannot be upgraded, and
every check that counts nodes (witness, resiliency, memory with a node
drained, max_failed_nodes) would be meaningless.
""")

register("HCI112", E, "nothing to plan", """
`hciplan plan`, `graph`, `simulate` and `emit` need an `upgrade` block: the
file only describes the cluster. `hciplan check` reports it as well, after
every other problem of the description, so that a clean check always means a
plan exists. Add an `upgrade` block (`hciplan import` writes a starting one).
""")
register("HCI113", E, "invisible or bidirectional character in a name or text", """
A name or text holds a Unicode format character (category Cf). These are
invisible, and the bidirectional ones make a reviewer see text in an order that
is not the order of its characters (the "Trojan Source" attack, CVE-2021-42574;
Unicode Bidirectional Algorithm, UAX #9): a runbook, a graph or a script could
then read differently from what it does. Refused everywhere a string is
written, and in inventories (`hciplan import`):
  U+202A-U+202E  embeddings and overrides (LRE, RLE, PDF, LRO, RLO)
  U+2066-U+2069  isolates (LRI, RLI, FSI, PDI)
  U+200E, U+200F left-to-right and right-to-left marks; U+061C Arabic letter mark
  and every other Cf character: zero-width space (U+200B), joiners (U+200C,
  U+200D), word joiner (U+2060), soft hyphen (U+00AD), BOM (U+FEFF), ...
The diagnostic points at the character (or its `\\uXXXX` escape) and names its
code point. Delete it; names and texts are printable characters only
(docs/language.md, "Characters in names and texts").
""")
register("HCI114", W, "typographic quote or dash in a name the script uses", """
A name or path that the PowerShell script uses holds a typographic quote
(U+2018-U+201E) or dash (U+2013-U+2015). PowerShell reads them as the plain
quote or dash (its lexical grammar treats U+2018-U+201B as `'`, U+201C-U+201E
as `"` and U+2013-U+2015 as `-`), so text pasted from a word processor can mean
something different to a reader than to the shell. The script quotes such
names correctly whatever they hold; this warns in case the character was not
meant: write the plain `'`, `"` or `-` if so.
""")

# --- HCI2xx: upgrade path and supported configurations -----------------------
register("HCI201", E, "unsupported upgrade path", """
hciplan plans the 22H2 (OS 20349.x) to 23H2 (OS 25398.x) upgrade followed by
the solution upgrade. Other paths (for example the direct 22H2 -> 24H2 path
added in release 2505) are not modelled yet.
""", "[A-about], [A-ps]")
register("HCI202", E, "22H2 Supplemental Package is not supported", """
Clusters running the 22H2 Supplemental Package cannot take the 23H2 upgrade.
""", "[A-about]")
register("HCI203", E, "stretched cluster: no solution upgrade", """
Stretched clusters can take the OS upgrade only, through a dedicated procedure
with the 2509 ISO. The solution upgrade (and 24H2 afterwards) is not available
to them, and their support ended in April 2026. Storage Replica partnerships
must be removed before the upgrade and recreated after it. Remove the
`solution` block, or convert the cluster to a non-stretched one first.
""", "[A-about], [A-stretch]")
register("HCI204", E, "stretched cluster: needs the 2509 media", """
The OS upgrade of a stretched cluster uses the dedicated 2509 ISO, so the
upgrade must use `source = media` with `media_path` pointing at the extracted
2509 ISO on every node.
""", "[A-stretch]")
register("HCI205", E, "SCVMM-managed cluster needs SCVMM 2025", """
A cluster managed by System Center Virtual Machine Manager can take the OS
upgrade only when it is managed by SCVMM 2025. Upgrade SCVMM first, or remove
the cluster from SCVMM management.
""", "[A-about]")
register("HCI206", E, "preview Arc VMs cannot be upgraded", """
Clusters running the preview of Arc VM management cannot be upgraded. The
preview Arc VMs (and MOC) must be removed first.
""", "[A-about]")
register("HCI207", E, "AKS must be removed", """
AKS on Azure Stack HCI (AKS Arc) is incompatible with the 23H2 Kubernetes
versions and must be removed (`Uninstall-AksHci`) before the upgrade. Set
`aks = remove` in the upgrade block; removal is irreversible for the AKS
workloads, so move them elsewhere first.
""", "[A-about], [A-ps], [A-val]")
register("HCI208", E, "cluster is not registered", """
The upgrade gates require `Get-AzureStackHCI` to report Registered and
Connected. Register the cluster with Azure before planning the upgrade.
""", "[A-ts]")

# --- HCI3xx: readiness blockers ------------------------------------------------
register("HCI301", E, "BitLocker on without suspension", """
With BitLocker on, every reboot of the upgrade stops at the recovery prompt
unless BitLocker is suspended (`Suspend-BitLocker -MountPoint C: -RebootCount 0`)
first and resumed at the end. Set `bitlocker = suspend` in the upgrade block.
""", "[A-val]")
register("HCI302", E, "WDAC enforced without a plan to disable it", """
The readiness checks require WDAC policies to be removed before Arc
enablement and re-applied (the new policies) afterwards. Set `wdac = disable`.
""", "[A-val]")
register("HCI303", E, "Network ATC absent without a plan to configure it", """
The solution upgrade requires Network ATC. Set `network_atc = configure` to
plan its installation and the rolling per-node migration to intents.
""", "[A-val], [A-atc]")
register("HCI304", E, "install language is not English", """
The readiness checks require an English (en-US) installation. If only the
locale differs, `Set-WinUserLanguageList en-US` for the LCM user on each node
remediates it; set `language = "en-US"` once that is done.
""", "[A-val]")
register("HCI305", E, "not enough free pool space for Infrastructure_1", """
The solution upgrade creates a 250 GB infrastructure volume `Infrastructure_1`
in the storage pool [A-val]. A mirror stores whole copies, so its pool
footprint is its size times the copies: hciplan infers (inference, not in the
sources) a 2-way mirror on one or two nodes (500 GB) and a 3-way mirror on
three or more (750 GB); the readiness article's Get-VirtualDisk table shows a
2-way mirror taking about twice its size. On top of that the pool must keep
its repair reserve unallocated: S2D guidance is one capacity drive per server,
up to four drives, so that a repair can start in place after a drive fails.
Without drive sizes hciplan assumes four capacity drives per node (the S2D
minimum): reserve = min(nodes, 4) x pool size / (4 x nodes). Set `reserve` on
the pool to the real figure; `reserve = 0GB` gives the reserve up knowingly.

The check: pool free space (+ what the planned thin conversions free) must be
at least footprint + reserve. The message gives free, needed and the
shortfall; the first hint the footprint and the reserve. Options: convert
fixed volumes to thin (stop the VMs on the volume and cycle the CSV), recreate
volumes smaller, or add drives. The hints name the fixed volumes that could be
converted and what each frees.
""", "[A-val]")
register("HCI306", E, "a volume is already named Infrastructure_1", """
The solution upgrade creates `Infrastructure_1`; no existing volume may have
that name. Renaming a volume breaks the paths of the VMs stored on it, so move
those VMs' storage first.
""", "[A-val]")

register("HCI307", E, "convert_to_thin names a volume that cannot be converted", """
`convert_to_thin` lists fixed volumes of the cluster to convert to thin
provisioning before the solution upgrade. Each name must be a volume of the
cluster with `provisioning = fixed`, listed once.
""", "[A-val]")

register("HCI308", E, "the solution upgrade needs the functional level and pool version current", """
The readiness checks of the solution upgrade require the cluster functional
level and the storage pool version to be current. With a `solution` block,
use `functional_level = after_validation` (or `with_cau`) and
`storage_pool = update`.
""", "[A-val]")
register("HCI309", W, "pool space cannot be checked", """
The solution upgrade needs free pool space for `Infrastructure_1` (its 250 GB
as a mirror, plus the repair reserve; see HCI305), but the file has no `pool`
block, so neither the checker (HCI305) nor the safety proof (HCI905) can tell
whether it fits. Describe the pool (`Get-StoragePool`: Size and
AllocatedSize).
""", "[A-val]")

# --- HCI4xx: names ---------------------------------------------------------------
register("HCI401", E, "invalid computer name", """
Node names are NetBIOS computer names: 1 to 15 characters, letters, digits and
hyphens, not all digits. The orchestrator is a computer name too (a short
name, or a DNS name of letters, digits, hyphens and dots).
""", "[A-arm]")
register("HCI402", E, "duplicate name", """
Two nodes (or volumes, VM groups, windows) have the same name, or two nodes
share an IP address. Names are compared case-insensitively, as Windows does.
""")
register("HCI403", E, "invalid cluster name", """
The failover cluster name is 3 to 15 characters of letters, digits and
hyphens, not all digits, and it must differ from every node name.
""", "[A-arm], [A-inst]")
register("HCI404", E, "the orchestrator is a cluster node", """
The CAU run must be started from a Windows Server 2022 machine outside the
cluster: a node that reboots during the run cannot coordinate it.
""", "[A-ps]")
register("HCI405", E, "node_order does not name exactly the cluster's nodes", """
`node_order` must list every node of the cluster exactly once. Unknown,
missing and repeated nodes are reported.
""")

# --- HCI5xx: availability ----------------------------------------------------------
register("HCI501", E, "two-node cluster without a witness", """
A two-node cluster loses quorum when one node reboots unless it has a witness.
Configure a cloud, file share or disk witness before the upgrade.
""", "[W-rolling]")
register("HCI502", E, "resiliency needs more nodes", """
The volume's resiliency needs more nodes than the cluster has (a three-way
mirror needs 3, dual parity and mirror-accelerated parity need 4, a nested
two-way mirror is for 2-node clusters).
""")
register("HCI503", E, "HA VMs do not fit with a node drained", """
During the rolling upgrade one node at a time is drained; its highly available
VMs must fit in the memory of the other nodes. The message gives the HA VM
memory and the memory left with the largest node drained. Reduce the VM
memory, add memory, or shut some VMs down for the upgrade.
""", "[W-rolling], [H-maint]")
register("HCI504", E, "allocation exceeds size", """
The pool's `allocated` is larger than its `size` (both come from
`Get-StoragePool`: AllocatedSize and Size), or a volume's `used` is larger
than its `size`.
""")
register("HCI505", W, "single-node cluster", """
A single-node cluster cannot move its VMs anywhere: every reboot of the
upgrade is an outage for all VMs on it. A rolling method (cau, wac, manual)
needs a second node to drain to and to keep quorum, so it is an error there;
with `method = offline` the outage is the plan and this is a warning.
""", "[S-sbe]")
register("HCI506", W, "no witness", """
The cluster has no witness. With dynamic quorum a cluster of three or more
nodes survives one node down, but a witness makes a second failure during the
upgrade survivable.
""", "[W-rolling]")
register("HCI507", E, "more machines than a cluster supports", """
Azure Local (Azure Stack HCI) supports 1 to 16 machines in one cluster; a
stretched cluster counts both sites (at most 8 per site). hciplan plans only
what Microsoft supports: split the machines into clusters of at most 16 (each
file is one cluster), or correct the node list.
""", "[M-plan], [M-req]")

# --- HCI6xx: method -------------------------------------------------------------
register("HCI601", E, "Windows Admin Center cannot use media", """
The Windows Admin Center upgrade path has no ISO or offline option. Use
`method = cau` (or `manual`) with `source = media`, or use Windows Update.
""", "[A-wac]")
register("HCI602", W, "offline upgrade is a full outage", """
The fast offline method stops the cluster and upgrades all nodes in parallel:
every VM is down for the whole upgrade. The message gives the number of VMs
affected.
""", "[A-other]")
register("HCI603", E, "CAU needs an orchestrator", """
The CAU rolling upgrade is driven from a Windows Server 2022 machine outside
the cluster. Name it with `orchestrator = "MGMT01"`.
""", "[A-ps]")
register("HCI604", E, "media source needs a valid media_path", """
With `source = media`, `media_path` must be the absolute local path (for
example `"C:\\\\Media\\\\23H2"`) of the folder where the ISO was extracted,
the same on every node. It must point at the folder, not at the `.iso` file.
""", "[A-ps]")
register("HCI605", W, "media_path is ignored", """
`media_path` is set but `source = windows_update`; the path is not used.
""")
register("HCI606", E, "functional level cannot be raised by this method", """
`functional_level = with_cau` lets the CAU RollingUpgradePlugin raise the
cluster functional level at the end of its run (or the Windows Admin Center
checkbox). Only `cau` and `wac` can do that; use `after_validation` or
`manual` with other methods.
""", "[A-ps], [A-post]")
register("HCI607", E, "max_failed_nodes out of range", """
CAU accepts `MaxFailedNodes` from 0 to n-1 for an n-node cluster.
""", "[W-opts]")
register("HCI608", W, "functional level raised by CAU without a validation gate", """
With `functional_level = with_cau`, the irreversible functional-level update
runs at the end of the CAU run, before `Test-Cluster` can validate the
upgraded cluster. `after_validation` keeps a validation gate in front of the
point of no return.
""", "[A-ps], [A-post]")

register("HCI609", W, "an intent has no effect", """
An upgrade intent asks for something this plan will not do: `storage_pool` or
`vm_version = update` while the functional level is not raised,
`convert_to_thin` without a solution upgrade, `network_atc = configure` on a
cluster whose Network ATC is already configured, `wdac = disable` while WDAC is
not enforced, or `aks = remove` without AKS installed. Remove the intent or
correct the cluster's description.
""")

register("HCI610", W, "CAU cannot raise the functional level over Windows Update", """
The upgrade docs pass `UpdateClusterFunctionalLevel='true'` to the
RollingUpgradePlugin only on the media route (`WuConnected='false'` and
`PathToSetupMedia`). Over Windows Update hciplan does not pass it; the plan
raises the level in P3 with `Update-ClusterFunctionalLevel`, after the
validation gate, exactly as `functional_level = after_validation` does.
""", "[A-ps]")

# --- HCI7xx: solution-upgrade inputs -----------------------------------------------
register("HCI701", E, "invalid key vault name", """
A key vault name is 3-24 characters of letters, digits and hyphens; it starts
with a letter, ends with a letter or digit, and has no `--`.
""", "[Z-names], [A-inst]")
register("HCI702", E, "invalid deployment user", """
The LCM deployment user is 1-20 characters of letters, digits, `-` and `_`,
does not start with `-` or a digit, is not `Administrator`, and is written
without a domain (`hcilcm`, not `CONTOSO\\hcilcm`).
""", "[A-inst], [A-ad]")
register("HCI703", E, "IP range too small", """
The solution upgrade needs at least 6 contiguous IPv4 addresses, written
`first .. last` with first <= last.
""", "[A-inst], [A-arm]")
register("HCI704", E, "IP range outside the nodes' subnet", """
The infrastructure IP range must be in the hosts' management subnet. The
subnet comes from `subnet` in the solution block, or from the node IPs'
prefix (`ip = 10.0.10.11/24`), or is assumed to be /24.
""", "[A-inst], [A-arm]")
register("HCI705", E, "IP range overlaps a node IP", """
The infrastructure IP range must be unused: it may not include a node's IP.
""", "[A-inst]")
register("HCI706", E, "invalid custom location name", """
The custom location is an Azure resource name: 1-63 characters of letters,
digits, `-`, `_` and `.`, starting with a letter or digit (inference from
Azure resource naming; the default is `<cluster>-cl`).
""", "[A-inst]")
register("HCI707", E, "invalid AD OU path", """
`adou_path` is a distinguished name (for example
`"OU=HCI,DC=contoso,DC=com"`) that contains none of `& " ' < >` and is not at
the top level of the domain.
""", "[A-ad], [A-arm]")

# --- HCI8xx: windows ---------------------------------------------------------------
register("HCI801", E, "window ends before it starts", """
A maintenance window's `end` must be after its `start`.
""")
register("HCI802", E, "timestamp without a time zone", """
Timestamps must say their zone (`2026-12-05T22:00Z` or
`2026-12-05T22:00+01:00`), so that a plan means the same night everywhere.
""")
register("HCI803", E, "windows overlap", """
Two maintenance windows overlap; merge them into one window.
""")
register("HCI804", W, "the plan's expected work does not fit its windows", """
A check of the compiled plan against the `window` blocks, with the plan's own
figures. The expected work is the critical path of mean step durations (the
`expected` line of `hciplan plan`); the windows hold their lengths summed.
A unit of work (a node's pass from drain to healthy storage, the offline
bracket from stop to start, or a single step such as the solution deployment)
runs to its safe point once started, so it cannot be split across windows.

The warning is given when the expected work exceeds the total window time
(the message says how many windows of the longest window's length the work
needs at least), or when the longest unit is longer than the longest window,
so no number of such windows can hold it (the message names the unit). Both
are lower bounds: they use means, not percentiles, and ignore the time lost
when a unit does not fit the rest of a window. `hciplan simulate` dry-runs the
plan against the windows and gives the chance to finish. Add windows, make
them longer, or split the journey (for example the solution upgrade into a
later window of its own).
""")

register("HCI805", W, "mixed OS mode is expected to last more than 4 weeks", """
From the moment the first node runs 23H2 until the functional level is
raised, the cluster runs in mixed OS mode: some nodes on 23H2, some on 22H2
(or all on 23H2 at the old level). It is meant as a short stage of a rolling
upgrade: Microsoft expects it to end within 4 weeks, and it can still be
backed out until the functional level is raised [W-rolling].

The check reads the plan's expected schedule (mean durations and the window
rule, `hciplan plan`, "Schedule by window"): the time from the end of the
first node's reboot into 23H2 to the end of the functional-level update
(without one in the plan, `functional_level = manual`, to the last node's
reboot into 23H2; the level is raised by hand after that). It warns when
that is more than 28 days, or when mixed mode begins and no window left ends
it although the windows go on for more than 28 days. The message gives the
duration, the two moments and their windows. Plan the nodes' OS upgrades and
the functional-level update in windows at most 4 weeks apart, or make the
windows longer. `hciplan simulate` reports the mixed-mode P50 and P90 over
the runs.
""", "[W-rolling]")

# --- HCI9xx: safety proofs over the plan ------------------------------------------
register("HCI901", E, "storage redundancy can be lost", """
Walking the plan found a state where more nodes are down (rebooting, or back
but still resyncing) than the volumes tolerate, or where a node goes down
while the storage repair from a previous node is still pending. Only one fault
domain may be down at a time, and the next node may go down only after the
repair jobs finish, or two copies of the same data could be stale at once.
The diagnostic shows the sequence of steps that reaches the state.
""", "[H-maint], [W-resync], [W-opts]")
register("HCI902", E, "quorum can be lost", """
Walking the plan found a state where the votes of the nodes that are up, plus
the witness, are not a majority of all votes: the cluster would stop. The
diagnostic shows the steps that lead there and the vote count. Dynamic quorum
is not counted on (a conservative choice).
""", "[W-rolling], [W-invoke]")
register("HCI903", E, "HA VMs do not fit on the nodes that are up", """
Walking the plan found a state where the highly available VMs' memory exceeds
the memory of the nodes that are up and not drained. The diagnostic shows the
steps that lead there and the numbers.
""", "[W-rolling], [H-maint]")
register("HCI904", E, "irreversible step without its prerequisites", """
An irreversible step (cluster functional level, storage pool version, VM
version, AKS removal, the solution deployment) must run after every step it
depends on and after a validation gate that checks the state it acts on; and
nothing needed to back out (the OS upgrade of any node) may come after the
point of no return.
""", "[A-post], [W-rolling]")
register("HCI905", E, "no room for the infrastructure volume at the solution upgrade", """
When the solution upgrade starts, the pool's free space, counting only the
thin conversions that are ordered before it, must hold the footprint of
`Infrastructure_1` (250 GB as a 2-way mirror on up to two nodes, a 3-way
mirror on three or more: an inference) and still leave the repair reserve
unallocated (the pool's `reserve`, or the assumption HCI305 explains). The
hints give the conversions counted, the footprint and the reserve.
""", "[A-val]")

# --- HCI10xx: simulation inputs (timing and scenario blocks) -------------------------
register("HCI1001", E, "duration model parameters do not match its distribution", """
Each distribution takes its own parameters: `fixed` takes `value`; `uniform`
takes `low` and `high`; `triangular` takes `low`, `mode` and `high`;
`lognormal` takes `median` and `p90`; `empirical` takes `observed` (a list of
durations). A parameter of another distribution, or a missing one, is an
error. See docs/simulation.md.
""")
register("HCI1002", E, "duration model values are inconsistent", """
The parameters of a duration model contradict each other: `low` above `high`,
a triangular `mode` outside `low`..`high`, a lognormal `p90` not above its
`median`, or an empty `observed` list.
""")
register("HCI1003", E, "unknown step kind or duration model", """
A `model "NAME"` in the timing block names a step kind (`cau.install`, which
overrides that kind only) or a duration model (`os.install`, shared by
`cau.install`, `os.setup` and `offline.setup`); a `risk "KIND"` in a scenario
names a step kind. The name is neither. `hciplan plan --format json` shows
each step's `kind` and `duration_model`; docs/simulation.md lists them all.
""")
register("HCI1004", E, "duplicate duration model or scenario", """
Two `model` blocks in `timing` have the same name, or two scenarios do. Keep
one: a simulation must not depend on which one would win.
""")
register("HCI1005", E, "a failure names an unknown node or step", """
A `fail "NODE" { step = "..." }` block (or `--fail NODE:STEP:MODE`) must name
a node of the cluster (or `cluster` for a cluster-wide step) and a step that
node has in the plan: a verb such as `reboot` (the OS-upgrade pass when the
node has several), `pass.verb` such as `registry.reboot`, a step kind such as
`cau.install`, or a full step id from `hciplan plan`.
""")
register("HCI1006", E, "failure mode does not fit the step or its parameters", """
`drain_failure` applies to a drain step and `resync_stall` to a storage
repair wait; `factor` goes with `mode = slow` and `attempts` with
`mode = error`.
""")

register("HCI920", W, "a timeout is shorter than the step usually takes", """
The file sets `reboot_timeout` (CAU's `-RebootTimeoutMinutes`), or the timing
block's `drain_timeout` or `repair_timeout`, below the 90th percentile of the
duration model of a step it bounds. The script gives such a step up at that
bound and the simulator does the same, so about one attempt in ten or more
fails although nothing is wrong: with `max_failed_nodes = 0` the CAU run
stops. A feature-update reboot finishes setup first and takes longer than a
plain restart. Leave the attribute out (hciplan then derives it: twice the
P90, at least the old fixed default) or raise it above the P90 shown.
""", "[W-opts]")

# --- HCI11xx: the real validator's results (check --validation, docs/validation.md) ----------------
register("HCI1101", E, "the validator reports a failure the plan does not resolve", """
`hciplan check FILE --validation RESULTS.json` reads the Environment
Checker's results (`Invoke-AzStackHciUpgradeValidation -PassThru`, exported
with ConvertTo-Json). A test hciplan knows failed, and neither one of
hciplan's own rules nor a step of the plan accounts for it: Secure Boot off or
a TPM below 2.0 on a node, a node not Up, an infrastructure IP range the
validator cannot reach, a storage pool failure hciplan's figures do not
explain. The diagnostic stands where the fact lives in the file (the node's
block, the pool, the solution's `ip_range`) and gives hciplan's remediation,
then the validator's own Detail and Remediation.

It is a warning when the failure does not block this plan: a TPM property
test (non-blocking [A-val]), a test of the solution upgrade while the file
plans none, a test of a new deployment (domain membership), a file without an
upgrade block, or a result whose status is WARNING. A failure that one of
hciplan's rules already reports (HCI301 for BitLocker, HCI305 for pool space)
is not repeated: that diagnostic carries the validator's text. A failure the
plan resolves (BitLocker suspended in P1, the OS upgraded in P2) is listed
under "resolved by the plan" after the diagnostics.
""", "[A-val]")
register("HCI1102", E, "the file contradicts the validator", """
A validator result says a fact of the cluster is not what the file says:
BitLocker protects a volume while the file says `bitlocker = off`, WDAC is
enforced, Network ATC or AKS is (or is not) installed, the cluster is
stretched or not registered, the LCM user's language is not English. The plan
would be built on the wrong fact: an error where the fact matters to this
plan, a warning where it does not yet (a fact of the solution upgrade in a file
without a `solution` block, or a file without an upgrade block). Correct the
attribute (the first hint says to what), or let
`hciplan import --validation RESULTS.json --into FILE` rewrite it: the
rewritten attribute carries a `# from validation: TEST STATUS TIME` comment.
""", "[A-val]")
register("HCI1103", W, "a failed test hciplan does not know", """
The validator reports a failed test that hciplan has no mapping for (the
known tests are listed in docs/validation.md). hciplan lists it with its
status, target and the validator's text, so that nothing is dropped, but
cannot say what it means for the plan. The emitted readiness gate (P5) stops
on any failed test of `Invoke-AzStackHciUpgradeValidation` except the TPM
property warnings: resolve it with the validator's remediation before the
night, or confirm that it belongs to another validation (a new deployment,
adding a node, SLB).
""")
register("HCI1104", W, "the validation results name none of the file's nodes", """
The results name machines (`Machine: NODE3, ...`), but none of them is a node
of the file: they were probably exported on another cluster, or the nodes are
named differently. Findings about a node then stand at the cluster block.
Export the results on this cluster, or name the nodes as `Get-ClusterNode`
does.
""")

# --- HCI12xx: fleet files (`hciplan check FLEET`, `hciplan fleet plan FLEET`, docs/fleet.md) ---------------
register("HCI1201", E, "a cluster entry names no cluster file", """
A `cluster "PATH"` entry of a fleet names a file, a glob (`stores/*.hciplan`,
`**` for any depth) or a folder (its `*.hciplan` files, not below), relative
to the fleet file's folder. Here the file does not exist or cannot be read,
the glob matches no `.hciplan` file, or the folder holds none. Check the path
(it is relative to the fleet file, not to the current folder).
""")
register("HCI1202", E, "the rings are not numbered 0, 1, 2, ...", """
Rings go in order: ring 0 is the pilot, and every later ring waits for the
one before it. The `ring` numbers the fleet's clusters use must start at 0 and
have no gap, so that no ring is skipped by a typo: with rings 0 and 2 and no
ring 1, which clusters were meant to go second is not known.
""")
register("HCI1203", E, "unknown time zone", """
A site's or a shift's `zone` is an IANA time zone name such as
`"Europe/Paris"` or `"America/Toronto"` (or `"UTC"`), as Python's `zoneinfo`
knows it. Weekly windows are read in that zone, with its daylight-saving
changes. Abbreviations such as `CET` or fixed offsets are not zone names.
""")
register("HCI1204", E, "a blackout ends before it starts", """
A blackout covers every day from its `start` date to its `end` date, both
included, in each cluster's local time. Its `end` is before its `start`.
""")
register("HCI1205", W, "a window always falls in a blackout", """
Every occurrence of this weekly window within the campaign's horizon
(`start` plus `weeks`) overlaps a blackout, so no work can ever be planned in
it. The window is kept (a later campaign may use it), but the cluster relies
on its other windows.
""")
register("HCI1206", E, "a cluster has no window to be planned in", """
The campaign plans each cluster in weekly windows: its entry's own `window`
blocks, else its site's. Without either, the cluster file's own `window`
blocks are used. This cluster has none, or every occurrence of them within
the horizon overlaps a blackout: it can never be scheduled. Give its site or
its entry a window, or lengthen the horizon (`weeks`).
""")
register("HCI1207", E, "a cluster is listed twice", """
Two entries of the fleet reach the same cluster: the same file (an explicit
path and a glob, say), or two files describing a cluster of the same name. A
cluster is upgraded once, in one ring: list it once. Two files with the same
name for different clusters would also make the campaign's report ambiguous.
""")
register("HCI1208", E, "a fleet entry is not a cluster file", """
A `cluster` entry of a fleet reaches a file that is itself a fleet file (it
has a `fleet` block), or the fleet file itself. Fleets do not nest: list the
cluster files.
""")
register("HCI1209", E, "unknown site", """
A cluster entry's `site` names no `site` block of the fleet. Sites are
compared exactly; the hint names the closest one.
""")
register("HCI1210", E, "a fleet file holds one fleet block and nothing else", """
A fleet file has exactly one `fleet "name" { ... }` block at the top level
and no `cluster`, `upgrade`, `timing` or `scenario` blocks: those belong to
the cluster files it lists.
""")
register("HCI1211", E, "a cluster entry reaches outside the fleet file's folder", """
A `cluster "PATH"` entry must stay inside the fleet file's folder tree: no
absolute path (`/etc`, `C:\\fleet`, `\\\\server\\share`, on either system,
since a fleet repository is checked on both) and no `..` that climbs above
the folder (`sub/../c1.hciplan` is fine). So `hciplan check` run in a fleet
repository's CI reads that repository and nothing else, and a glob cannot
walk the whole disk. Put the fleet file in the folder that holds its cluster
files (or above it) and write the paths relative to it. Symlinks inside the
folder are followed when named; `**` does not descend into symlinked folders.
""")
register("HCI1212", E, "a cluster glob lists too much", """
A glob of a fleet entry is matched by listing folders, and this one listed
more than 100,000 directory entries before it was done: it was stopped, so
that `hciplan check` does not walk a whole tree for minutes. Start the glob in
the folder that holds the cluster files (`stores/**/*.hciplan` rather than
`**/*.hciplan` at a repository's top), or list the folders one entry each.
""")
