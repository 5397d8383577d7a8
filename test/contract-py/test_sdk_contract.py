"""The lab against the vendors' own SDKs: pyVmomi (vSphere) and netapp-ontap (ONTAP REST).

Our TypeScript clients were written against the lab, so they cannot tell where it is kinder than
a real vCenter 8 or ONTAP 9.8. These SDKs can: they type every property, enum and fault. The
suite makes the calls the operator makes, in the order a DR test, a planned migration, a failback
and a cleanup make them, plus the faults the operator relies on, and fails on the first drift.

The lab is started here (VMDR_LAB names the binary). TLS is verified against the lab's CA only:
REQUESTS_CA_BUNDLE and friends are ignored whatever the caller's environment says.
"""

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

# The caller's CA settings must not decide what this suite trusts (requests would let
# REQUESTS_CA_BUNDLE override verify=, and SSL_CERT_FILE changes OpenSSL's defaults).
for _var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
    os.environ.pop(_var, None)

import requests  # noqa: E402
from netapp_ontap import HostConnection, config  # noqa: E402
from netapp_ontap.error import NetAppRestError  # noqa: E402
from netapp_ontap.resources import (  # noqa: E402
    Cluster, Igroup, Lun, LunMap, SnapmirrorRelationship, SnapmirrorTransfer, Snapshot, Volume,
)
from pyVim.connect import Disconnect, SmartConnect  # noqa: E402
from pyVim.task import WaitForTask  # noqa: E402
from pyVmomi import vim, vmodl  # noqa: E402

LAB = {}
VC = {}
ONTAP = {}
config.RAISE_API_ERRORS = True


def control(method, path, body=None):
    """Calls the lab's control API (plain HTTP on loopback)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(LAB["control"] + path, data=data, method=method,
                                 headers={"content-type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=60) as res:
        return json.loads(res.read())


def truth(site):
    return control("GET", f"/truth/sites/{site}/vcenter")


def vcenter(site, cafile=None, password=None):
    """A pyVmomi session, verifying the lab's certificate."""
    ep = LAB["sites"][site]["vcenter"]
    host, port = ep["url"].removeprefix("https://").rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=cafile or LAB["caFile"])
    return SmartConnect(host=host, port=int(port), user=ep["username"], pwd=password or ep["password"], sslContext=ctx)


class _NoEnvSession(requests.Session):
    """A requests session that never takes CA bundles or proxies from the environment."""

    def __init__(self):
        super().__init__()
        self.trust_env = False


def ontap(site, cafile=None):
    """A netapp-ontap connection, verifying the lab's certificate."""
    ep = LAB["sites"][site]["ontap"]
    host, port = ep["url"].removeprefix("https://").rsplit(":", 1)
    conn = HostConnection(host, port=int(port), username=ep["username"], password=ep["password"],
                          verify=cafile or LAB["caFile"], poll_interval=1, poll_timeout=60)
    conn._request_session = _NoEnvSession()  # the SDK keeps its session here; ours ignores the environment
    return conn


def setUpModule():
    binary = os.environ.get("VMDR_LAB")
    if not binary:
        raise unittest.SkipTest("VMDR_LAB is not set (make test-contract-py sets it)")
    LAB["dir"] = tempfile.mkdtemp(prefix="vmdr-contract-")
    with open(os.path.join(LAB["dir"], "stderr"), "w") as errors:
        LAB["proc"] = subprocess.Popen([binary, "--state-dir", LAB["dir"], "--guest-boot", "30s"], stdout=subprocess.DEVNULL, stderr=errors)
    path = os.path.join(LAB["dir"], "lab.json")
    deadline = time.monotonic() + 120
    while not os.path.exists(path):
        if LAB["proc"].poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the lab did not start: " + open(os.path.join(LAB["dir"], "stderr")).read()[-2000:])
        time.sleep(0.05)
    with open(path) as f:
        LAB.update(json.load(f))
    for site in ("site1", "site2"):
        VC[site] = vcenter(site)
        ONTAP[site] = ontap(site)


def tearDownModule():
    for si in VC.values():
        try:
            Disconnect(si)
        except Exception:  # noqa: BLE001 - the lab is going away anyway
            pass
    proc = LAB.get("proc")
    if proc:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    if LAB.get("dir"):
        shutil.rmtree(LAB["dir"], ignore_errors=True)


# ---- vSphere helpers (the operator's calls, through pyVmomi) ----

def content(site):
    return VC[site].RetrieveContent()


def datacenter(site):
    dc = content(site).searchIndex.FindByInventoryPath(LAB["sites"][site]["datacenter"])
    assert isinstance(dc, vim.Datacenter), dc
    return dc


def objects(site, kind, props):
    """Every object of a kind below the root, with properties, through a ContainerView."""
    c = content(site)
    view = c.viewManager.CreateContainerView(c.rootFolder, [kind], True)
    try:
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(
                obj=view, skip=True,
                selectSet=[vmodl.query.PropertyCollector.TraversalSpec(name="view", type=vim.view.ContainerView, path="view", skip=False)])],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=kind, pathSet=props)])
        out = []
        res = c.propertyCollector.RetrievePropertiesEx([spec], vmodl.query.PropertyCollector.RetrieveOptions(maxObjects=50))
        while res:
            for o in res.objects:
                out.append((o.obj, {p.name: p.val for p in o.propSet}))
            res = c.propertyCollector.ContinueRetrievePropertiesEx(res.token) if res.token else None
        return out
    finally:
        view.DestroyView()


def by_name(site, kind, name):
    for obj, props in objects(site, kind, ["name"]):
        if props["name"] == name:
            return obj
    return None


def hosts(site, prefix):
    return sorted((h for h, p in objects(site, vim.HostSystem, ["name"]) if p["name"].startswith(prefix)), key=lambda h: h.name)


def rescan(hs):
    for h in hs:
        ss = h.configManager.storageSystem
        ss.RescanAllHba()
        ss.RescanVmfs()


def resolve(hs, naa, mode="forceMount"):
    """Resolves the unresolved VMFS copy on device naa on every host; returns the results."""
    results = []
    for h in hs:
        ss = h.configManager.storageSystem
        copies = [c for c in ss.QueryUnresolvedVmfsVolume() if c.extent[0].device.diskName == naa]
        if not copies:
            continue
        spec = vim.host.UnresolvedVmfsResolutionSpec(extentDevicePath=[copies[0].extent[0].devicePath], uuidResolution=mode)
        task = ss.ResolveMultipleUnresolvedVmfsVolumesEx_Task([spec])
        WaitForTask(task)
        results.extend(task.info.result)
    return results


def release(hs, naa):
    """The safe removal of a device: unmount its VMFS, then detach it, on every host."""
    for h in hs:
        ss = h.configManager.storageSystem
        for m in ss.fileSystemVolumeInfo.mountInfo:
            vol = m.volume
            if isinstance(vol, vim.host.VmfsVolume) and any(e.diskName == naa for e in vol.extent) and m.mountInfo.mounted:
                ss.UnmountVmfsVolume(vol.uuid)
    for h in hs:
        ss = h.configManager.storageSystem
        for lun in ss.storageDeviceInfo.scsiLun:
            if lun.canonicalName == naa and "off" not in lun.operationalState:
                ss.DetachScsiLun(lun.uuid)


def naa_of(serial):
    return "naa.600a0980" + serial.encode().hex()


def wait(site, task):
    WaitForTask(task)
    return task.info.result


def answer_moved(vm, task, site):
    """Answers the "moved or copied" question by its meaning (keep the UUIDs), then waits."""
    deadline = time.monotonic() + 30
    while task.info.state not in (vim.TaskInfo.State.success, vim.TaskInfo.State.error):
        q = vm.runtime.question
        if q:
            moved = [c for c in q.choice.choiceInfo if "moved" in c.label.lower() or "moved" in c.summary.lower()]
            vm.AnswerVM(q.id, moved[0].key)
        if time.monotonic() > deadline:
            raise AssertionError("power-on did not finish")
        time.sleep(0.05)
    WaitForTask(task)


def register(site, dc, path, folder, pool, host=None):
    return wait(site, folder.RegisterVM_Task(path=path, asTemplate=False, pool=pool, host=host))


def storage_faults(site):
    return truth(site)["storageFaults"]


# ---- ONTAP helpers ----

def relationship(site, dest):
    with ONTAP[site]:
        rels = list(SnapmirrorRelationship.get_collection(**{"destination.path": dest}, fields="uuid,state,healthy,source,destination"))
    assert len(rels) == 1, rels
    return rels[0]


def set_state(site, rel, state):
    with ONTAP[site]:
        r = SnapmirrorRelationship(uuid=rel.uuid)
        r.state = state
        r.patch()
        r.get(fields="state")
        return r


def settle(site, rel):
    """Waits until a relationship's transfer (an initialize, a resync) has finished."""
    with ONTAP[site]:
        deadline = time.monotonic() + 60
        while True:
            r = SnapmirrorRelationship(uuid=rel.uuid)
            r.get(fields="transfer,state")
            if getattr(r, "transfer", None) is None or r.transfer.state in ("success", "failed"):
                return r
            if time.monotonic() > deadline:
                raise AssertionError(f"transfer of {rel.uuid} did not finish")
            time.sleep(0.1)


def update(site, rel):
    with ONTAP[site]:
        SnapmirrorTransfer(rel.uuid).post(hydrate=True)
    return settle(site, rel)


def lun_of(site, volume):
    with ONTAP[site]:
        luns = list(Lun.get_collection(**{"location.volume.name": volume}, fields="uuid,name,serial_number,lun_maps,enabled"))
    assert len(luns) == 1, luns
    return luns[0]


# ---------------------------------------------------------------------------------------------

class A_Connections(unittest.TestCase):
    def test_tls_is_verified_against_the_lab_CA_whatever_the_environment_says(self):
        with self.assertRaises(ssl.SSLError):
            vcenter("site1", cafile=LAB["untrustedCaFile"])
        bad = ontap("site1", cafile=LAB["untrustedCaFile"])
        with bad, self.assertRaises((NetAppRestError, requests.exceptions.SSLError)):
            Cluster().get()
        # A CA bundle in the environment neither breaks nor replaces the lab's CA.
        os.environ["REQUESTS_CA_BUNDLE"] = LAB["untrustedCaFile"]
        try:
            with ontap("site1"):
                c = Cluster()
                c.get(fields="name,version")
            self.assertEqual(c.name, LAB["sites"]["site1"]["ontap"]["cluster"])
            self.assertEqual(c.version.generation, 9)
            self.assertEqual(c.version.major, 8)
        finally:
            del os.environ["REQUESTS_CA_BUNDLE"]

    def test_a_wrong_password_is_InvalidLogin(self):
        with self.assertRaises(vim.fault.InvalidLogin):
            vcenter("site1", password="Wr0ng-pa55")
        ep = LAB["sites"]["site1"]["ontap"]
        host, port = ep["url"].removeprefix("https://").rsplit(":", 1)
        conn = HostConnection(host, port=int(port), username="admin", password="nope", verify=LAB["caFile"])
        conn._request_session = _NoEnvSession()
        with conn, self.assertRaises(NetAppRestError) as e:
            Cluster().get()
        self.assertEqual(e.exception.http_err_response.http_response.status_code, 401)


class B_Reads(unittest.TestCase):
    def test_about_the_vcenter(self):
        about = content("site1").about
        self.assertEqual(about.apiVersion, "8.0.3.0")
        self.assertEqual(about.instanceUuid, LAB["sites"]["site1"]["vcenter"]["instanceUuid"])

    def test_every_vm_runtime_and_summary_deserializes_with_their_enums(self):
        for site in ("site1", "site2"):
            for vm, props in objects(site, vim.VirtualMachine, ["runtime", "summary", "config", "guest"]):
                self.assertEqual(props["runtime"].faultToleranceState, "notConfigured", vm)
                self.assertEqual(props["runtime"].recordReplayState, "inactive", vm)
                self.assertIn(props["summary"].runtime.powerState, ("poweredOn", "poweredOff"))
        vm = by_name("site1", vim.VirtualMachine, "HR Database")
        self.assertEqual(vm.runtime.faultToleranceState, "notConfigured")  # a Fetch, as attribute access does
        self.assertTrue(vm.summary.config.instanceUuid)

    def test_every_managed_object_reads_whole(self):
        for site in ("site1", "site2"):
            for kind in (vim.HostSystem, vim.Datastore, vim.Folder, vim.ResourcePool, vim.ClusterComputeResource, vim.Network, vim.Datacenter):
                for obj, _ in objects(site, kind, ["name"]):
                    spec = vmodl.query.PropertyCollector.FilterSpec(
                        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=obj)],
                        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=type(obj), all=True)])
                    content(site).propertyCollector.RetrieveContents([spec])

    def test_an_unknown_property_path_fails_the_whole_call(self):
        vm = by_name("site1", vim.VirtualMachine, "HR Database")
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=vm)],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.VirtualMachine, pathSet=["name", "runtime.noSuchThing"])])
        with self.assertRaises(vmodl.query.InvalidProperty) as e:
            content("site1").propertyCollector.RetrievePropertiesEx([spec], vmodl.query.PropertyCollector.RetrieveOptions())
        self.assertEqual(e.exception.name, "runtime.noSuchThing")

    def test_datastore_urls_and_identity(self):
        for ds, p in objects("site1", vim.Datastore, ["name", "summary", "info"]):
            if p["summary"].type == "VMFS":
                self.assertEqual(p["summary"].url, f"ds:///vmfs/volumes/{p['info'].vmfs.uuid}/", p["name"])
            else:
                self.assertRegex(p["summary"].url, r"^ds:///vmfs/volumes/[0-9a-f]{8}-[0-9a-f]{8}/$")
            self.assertEqual(ds.summary.url, p["summary"].url)

    def test_hosts_have_their_dns_names_and_are_found_by_them(self):
        h = hosts("site1", "esx2")[0]
        dns = h.config.network.dnsConfig
        self.assertEqual((dns.hostName, dns.domainName), ("esx2", "site1.vmbook.lab"))
        si = content("site1").searchIndex
        self.assertEqual(si.FindByDnsName(datacenter=datacenter("site1"), dnsName="esx2.site1.vmbook.lab", vmSearch=False), h)

    def test_shadow_inventory_calls(self):
        dc = datacenter("site2")
        f = dc.vmFolder.CreateFolder("Contract-Shadow")
        with self.assertRaises(vim.fault.DuplicateName):
            dc.vmFolder.CreateFolder("Contract-Shadow")
        sub = f.CreateFolder("Database")
        wait("site2", sub.Rename_Task("DB"))
        self.assertEqual(content("site2").searchIndex.FindByInventoryPath("Site 2/vm/Contract-Shadow/DB"), sub)
        cluster = by_name("site2", vim.ClusterComputeResource, "Site2-BCDR")
        spec = vim.ResourceConfigSpec(
            cpuAllocation=vim.ResourceAllocationInfo(reservation=0, expandableReservation=True, limit=-1, shares=vim.SharesInfo(level="normal", shares=4000)),
            memoryAllocation=vim.ResourceAllocationInfo(reservation=0, expandableReservation=True, limit=-1, shares=vim.SharesInfo(level="normal", shares=163840)))
        pool = cluster.resourcePool.CreateResourcePool("Contract-Pool", spec)
        self.assertEqual(pool.owner, cluster)
        wait("site2", sub.Destroy_Task())
        wait("site2", f.Destroy_Task())
        wait("site2", pool.Destroy_Task())

    def test_watching_the_inventory_with_WaitForUpdatesEx(self):
        c = content("site1")
        pc = c.propertyCollector.CreatePropertyCollector()
        view = c.viewManager.CreateContainerView(c.rootFolder, [vim.VirtualMachine], True)
        try:
            spec = vmodl.query.PropertyCollector.FilterSpec(
                objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[
                    vmodl.query.PropertyCollector.TraversalSpec(name="v", type=vim.view.ContainerView, path="view", skip=False)])],
                propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.VirtualMachine, pathSet=["name", "runtime.powerState", "config.instanceUuid"])])
            pc.CreateFilter(spec, partialUpdates=False)
            first = pc.WaitForUpdatesEx("", vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=5))
            self.assertTrue(first.filterSet[0].objectSet)
            control("POST", "/sites/site1/vcenter/vms", {"name": "Contract-Watched", "datastore": "LP1"})
            seen = set()
            version = first.version
            deadline = time.monotonic() + 10
            while "Contract-Watched" not in seen and time.monotonic() < deadline:
                u = pc.WaitForUpdatesEx(version, vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=1))
                if u:
                    version = u.version
                    for fs in u.filterSet:
                        for o in fs.objectSet:
                            seen.update(ch.val for ch in o.changeSet if ch.name == "name")
            self.assertIn("Contract-Watched", seen)
            with self.assertRaises(vmodl.query.InvalidCollectorVersion):
                pc.WaitForUpdatesEx("no-such-version", vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=0))
        finally:
            view.DestroyView()
            pc.DestroyPropertyCollector()

    def test_file_manager_tasks_name_their_datastore_and_copy_folders(self):
        dc = datacenter("site1")
        fm = content("site1").fileManager
        task = fm.CopyDatastoreFile_Task(sourceName="[LP1] Site1-DC1", sourceDatacenter=dc, destinationName="[LP1] Contract-copy", destinationDatacenter=dc)
        WaitForTask(task)
        self.assertEqual(task.info.entity.name, "LP1")
        self.assertIsInstance(task.info.entity, vim.Datastore)
        browser = task.info.entity.browser
        found = wait("site1", browser.SearchDatastoreSubFolders_Task("[LP1] Contract-copy", vim.host.DatastoreBrowser.SearchSpec(matchPattern=["*.vmx"])))
        self.assertTrue(any(f.path.endswith(".vmx") for r in found for f in r.file))
        WaitForTask(fm.DeleteDatastoreFile_Task(name="[LP1] Contract-copy", datacenter=dc))


class C_Operations(unittest.TestCase):
    """A DR test, a planned migration, a failback and their cleanups, in the operator's order."""

    def test_1_dr_test_on_a_flexclone_then_cleanup_in_the_safe_order(self):
        rel = relationship("site2", "svm2:RG1FV1_SM")
        self.assertEqual(rel.state, "snapmirrored")
        with ONTAP["site2"]:
            vol = Volume.find(name="RG1FV1_SM", fields="uuid")
            snaps = sorted(Snapshot.get_collection(vol.uuid, fields="name,create_time"), key=lambda s: s.create_time)
            newest = [s for s in snaps if s.name.startswith("snapmirror.")][-1]
            Volume(name="RG1FV1_Contract", svm={"name": "svm2"}, clone={
                "is_flexclone": True, "parent_volume": {"name": "RG1FV1_SM"}, "parent_snapshot": {"name": newest.name}}).post(poll=True)
        lun = lun_of("site2", "RG1FV1_Contract")
        with ONTAP["site2"]:
            ig = Igroup.find(name="site2_bcdr", fields="uuid")
            LunMap(svm={"name": "svm2"}, lun={"name": lun.name}, igroup={"name": "site2_bcdr"}).post()
        naa = naa_of(lun.serial_number)
        bcdr = hosts("site2", "bcdr")
        rescan(bcdr)
        self.assertIsNone(by_name("site2", vim.Datastore, "RP1"), "a copy was mounted by a rescan")
        results = resolve(bcdr, naa)
        self.assertTrue(results and all(r.fault is None for r in results), results)
        ds = by_name("site2", vim.Datastore, "RP1")
        self.assertTrue(ds.summary.accessible)
        self.assertEqual(ds.info.vmfs.extent[0].diskName, naa)
        found = wait("site2", ds.browser.SearchDatastoreSubFolders_Task("[RP1]", vim.host.DatastoreBrowser.SearchSpec(
            matchPattern=["*.vmx"], query=[vim.host.DatastoreBrowser.VmConfigQuery()], details=vim.host.DatastoreBrowser.FileInfo.Details(fileType=True))))
        vmx = [f"{r.folderPath.rstrip('/')}/{f.path}" if not r.folderPath.endswith("]") else f"{r.folderPath} {f.path}" for r in found for f in r.file]
        self.assertTrue(any("HR Database.vmx" in p for p in vmx), vmx)

        dc = datacenter("site2")
        folder = dc.vmFolder.CreateFolder("Contract-Test")
        pool = by_name("site2", vim.ClusterComputeResource, "Site2-BCDR").resourcePool
        vm = register("site2", dc, "[RP1] HR Database/HR Database.vmx", folder, pool)
        nic = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard)][0]
        isolated = by_name("site2", vim.Network, "Site2-Test-Isolated")
        if isinstance(isolated, vim.dvs.DistributedVirtualPortgroup):
            nic.backing = vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
                port=vim.dvs.PortConnection(portgroupKey=isolated.key, switchUuid=isolated.config.distributedVirtualSwitch.uuid))
        else:
            nic.backing = vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=isolated.name, network=isolated)
        nic.connectable.startConnected = True
        media = [d for d in vm.config.hardware.device if isinstance(d, (vim.vm.device.VirtualCdrom, vim.vm.device.VirtualFloppy))]
        for m in media:
            m.connectable.startConnected = False
        changes = [vim.vm.device.VirtualDeviceSpec(operation="edit", device=d) for d in [nic, *media]]
        wait("site2", vm.ReconfigVM_Task(vim.vm.ConfigSpec(deviceChange=changes, tools=vim.vm.ToolsConfigInfo(afterPowerOn=True))))
        answer_moved(vm, vm.PowerOnVM_Task(), "site2")
        self.assertEqual(vm.runtime.powerState, "poweredOn")
        control("POST", "/clock/advance", {"by": "31s"})
        deadline = time.monotonic() + 10
        while vm.guest.toolsRunningStatus != "guestToolsRunning" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(vm.guest.toolsRunningStatus, "guestToolsRunning")
        with self.assertRaises(vim.fault.InvalidPowerState):
            wait("site2", vm.PowerOnVM_Task())

        # Cleanup: power off, unregister, unmount, detach, unmap, destroy the clone.
        wait("site2", vm.PowerOffVM_Task())
        vm.UnregisterVM()
        release(bcdr, naa)
        with ONTAP["site2"]:
            LunMap(lun={"uuid": lun.uuid}, igroup={"uuid": ig.uuid}).delete()
            Volume(uuid=Volume.find(name="RG1FV1_Contract").uuid).delete(poll=True)
        rescan(bcdr)
        self.assertIsNone(by_name("site2", vim.Datastore, "RP1"))
        wait("site2", folder.Destroy_Task())
        self.assertEqual(storage_faults("site2"), [])
        self.assertEqual(relationship("site2", "svm2:RG1FV1_SM").state, "snapmirrored")

    def test_2_planned_migration_then_failback_with_the_safe_storage_order(self):
        # At Site 1: the VMs on RP2 stop, and give the volume up (unregister, unmount, detach).
        esx = hosts("site1", "esx")
        site1_vms = {}
        for vm, p in objects("site1", vim.VirtualMachine, ["name", "datastore", "config.files.vmPathName", "parent", "resourcePool", "runtime.powerState"]):
            if any(d.name == "RP2" for d in p["datastore"]):
                site1_vms[p["name"]] = (vm, p)
        self.assertTrue(site1_vms)
        for vm, p in site1_vms.values():
            if p["runtime.powerState"] == "poweredOn":
                wait("site1", vm.PowerOffVM_Task())
        rel = relationship("site2", "svm2:RG1FV2_SM")
        update("site2", rel)
        set_state("site2", rel, "paused")
        self.assertEqual(set_state("site2", rel, "broken_off").state, "broken_off")

        # At Site 2: rescan, force-mount keeping the signature, register, power on.
        sm_lun = lun_of("site2", "RG1FV2_SM")
        naa2 = naa_of(sm_lun.serial_number)
        bcdr = hosts("site2", "bcdr")
        rescan(bcdr)
        self.assertTrue(all(r.fault is None for r in resolve(bcdr, naa2)))
        dc2 = datacenter("site2")
        pool2 = by_name("site2", vim.ClusterComputeResource, "Site2-BCDR").resourcePool
        name = sorted(site1_vms)[0]
        vm2 = register("site2", dc2, site1_vms[name][1]["config.files.vmPathName"], dc2.vmFolder, pool2)
        answer_moved(vm2, vm2.PowerOnVM_Task(), "site2")
        self.assertEqual(vm2.config.instanceUuid, site1_vms[name][0].config.instanceUuid)
        self.assertEqual(storage_faults("site2"), [])

        # Failback. Site 1 gives RP2 up before its volume turns into a destination.
        for vm, _ in site1_vms.values():
            vm.UnregisterVM()
        naa1 = naa_of(lun_of("site1", "RG1FV2").serial_number)
        with self.assertRaises(vim.fault.ResourceInUse):
            # A VM registered on the volume keeps it: the refusal the operator must handle.
            by_name("site2", vim.HostSystem, vm2.runtime.host.name).configManager.storageSystem.UnmountVmfsVolume(
                by_name("site2", vim.Datastore, "RP2").info.vmfs.uuid)
        uuid = by_name("site1", vim.Datastore, "RP2").info.vmfs.uuid
        release(esx, naa1)
        with ONTAP["site1"]:
            rev = SnapmirrorRelationship(source={"path": "svm2:RG1FV2_SM"}, destination={"path": "svm1:RG1FV2"}, policy={"name": "MirrorAllSnapshots"})
            rev.post(hydrate=True)
        rev = relationship("site1", "svm1:RG1FV2")
        set_state("site1", rev, "snapmirrored")
        settle("site1", rev)
        wait("site2", vm2.PowerOffVM_Task())
        vm2.UnregisterVM()
        release(bcdr, naa2)
        update("site1", rev)
        set_state("site1", rev, "paused")
        set_state("site1", rev, "broken_off")

        # Site 1 takes RP2 back: attach, mount (it unmounted it), register, power on.
        for h in esx:
            ss = h.configManager.storageSystem
            for lun in ss.storageDeviceInfo.scsiLun:
                if lun.canonicalName == naa1 and "off" in lun.operationalState:
                    ss.AttachScsiLun(lun.uuid)
        rescan(esx)
        unmounted = by_name("site1", vim.Datastore, "RP2")
        self.assertTrue(unmounted and not any(m.mountInfo.mounted for m in unmounted.host), "an unmounted volume stays unmounted")
        for h in esx:
            h.configManager.storageSystem.MountVmfsVolume(uuid)
        ds = by_name("site1", vim.Datastore, "RP2")
        self.assertTrue(ds.summary.accessible)
        dc1 = datacenter("site1")
        vm1, p = site1_vms[name]
        back = register("site1", dc1, p["config.files.vmPathName"], p["parent"], p["resourcePool"])
        answer_moved(back, back.PowerOnVM_Task(), "site1")

        # Reprotect: Site 2 is the destination again; the reverse relationship goes, with {} bodies.
        fwd = relationship("site2", "svm2:RG1FV2_SM")
        set_state("site2", fwd, "snapmirrored")
        self.assertEqual(settle("site2", fwd).state, "snapmirrored")
        with ONTAP["site1"]:
            SnapmirrorRelationship(uuid=rev.uuid).delete(destination_only=True)
        with ONTAP["site2"]:
            SnapmirrorRelationship(uuid=rev.uuid).delete(source_info_only=True)
        self.assertEqual(relationship("site2", "svm2:RG1FV2_SM").state, "snapmirrored")
        self.assertEqual(storage_faults("site1"), [])
        self.assertEqual(storage_faults("site2"), [])


class D_Faults(unittest.TestCase):
    def test_an_injected_task_fault_reaches_the_sdk_typed(self):
        control("POST", "/sites/site1/vcenter/fail-next-task", {"method": "PowerOffVM_Task", "fault": "InvalidState"})
        vm = by_name("site1", vim.VirtualMachine, "Desktop-01")
        with self.assertRaises(vim.fault.InvalidState):
            wait("site1", vm.PowerOffVM_Task())

    def test_a_deleted_object_is_ManagedObjectNotFound(self):
        f = datacenter("site1").vmFolder.CreateFolder("Contract-Gone")
        wait("site1", f.Destroy_Task())
        with self.assertRaises(vmodl.fault.ManagedObjectNotFound):
            f.Rename_Task("x")

    def test_ontap_errors_carry_their_codes(self):
        with ONTAP["site2"], self.assertRaises(NetAppRestError) as e:
            Volume(uuid="00000000-0000-0000-0000-000000000000").get()
        self.assertEqual(e.exception.http_err_response.http_response.status_code, 404)
        with ONTAP["site2"], self.assertRaises(NetAppRestError) as e:
            Volume(name="LP1FV1", svm={"name": "svm2"}, aggregates=[{"name": "aggr1"}], size=1 << 30).post()
        self.assertEqual(e.exception.http_err_response.http_response.status_code, 409)
        self.assertIn("code", e.exception.http_err_response.http_response.json()["error"])
        # Breaking a relationship that is not quiesced: the state machine's own refusal.
        rel = relationship("site2", "svm2:RG2FV1_SM")
        with self.assertRaises(NetAppRestError) as e:
            set_state("site2", rel, "uninitialized")
        self.assertEqual(e.exception.http_err_response.http_response.json()["error"]["code"], "13303818")

    def test_unsafe_removal_under_a_mounted_datastore_is_caught(self):
        with ONTAP["site2"]:
            vol = Volume.find(name="RG2FV2_SM", fields="uuid")
            snap = sorted((s for s in Snapshot.get_collection(vol.uuid, fields="name,create_time") if s.name.startswith("snapmirror.")), key=lambda s: s.create_time)[-1]
            Volume(name="RG2FV2_Unsafe", svm={"name": "svm2"}, clone={
                "is_flexclone": True, "parent_volume": {"name": "RG2FV2_SM"}, "parent_snapshot": {"name": snap.name}}).post(poll=True)
        lun = lun_of("site2", "RG2FV2_Unsafe")
        with ONTAP["site2"]:
            m = LunMap(svm={"name": "svm2"}, lun={"name": lun.name}, igroup={"name": "site2_bcdr"})
            m.post(hydrate=True)
            ig = Igroup.find(name="site2_bcdr", fields="uuid")
        bcdr = hosts("site2", "bcdr")
        rescan(bcdr)
        resolve(bcdr, naa_of(lun.serial_number))
        before = len(storage_faults("site2"))
        with ONTAP["site2"]:
            LunMap(lun={"uuid": lun.uuid}, igroup={"uuid": ig.uuid}).delete()
        deadline = time.monotonic() + 10
        while len(storage_faults("site2")) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        faults = storage_faults("site2")[before:]
        self.assertTrue(faults and all(f["kind"] == "PermanentDeviceLoss" for f in faults), faults)
        self.assertFalse(by_name("site2", vim.Datastore, "RP4").summary.accessible)
        rescan(bcdr)  # nothing runs on it: the lost device and the datastore go
        with ONTAP["site2"]:
            Volume(uuid=Volume.find(name="RG2FV2_Unsafe").uuid).delete(poll=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
