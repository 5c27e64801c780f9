#!/usr/bin/python3
"""python3-libvirt against a daemon: open, list, look up, define, start, suspend, resume, destroy,
undefine, read XML, and receive the matching lifecycle events. Exits non-zero on any mismatch.

usage: lifecycle.py URI
"""
import sys
import threading
import time

import libvirt

URI = sys.argv[1]
XML = """<domain type='test'>
  <name>py1</name>
  <uuid>22222222-3333-4444-5555-666666666601</uuid>
  <memory unit='KiB'>131072</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>"""

E = libvirt
EXPECTED = [
    (E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_ADDED),
    (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
    (E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
    (E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
    (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
    (E.VIR_DOMAIN_EVENT_UNDEFINED, E.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED),
]


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


libvirt.virEventRegisterDefaultImpl()
received = []
done = threading.Event()


def loop():
    while not done.is_set():
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=loop, daemon=True).start()


def on_lifecycle(conn, dom, event, detail, opaque):
    if dom.name() == "py1":
        received.append((event, detail))


conn = libvirt.open(URI)
cb = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle, None)

names = sorted(d.name() for d in conn.listAllDomains())
check(names == ["test"], f"initial domains {names}")
check(conn.lookupByName("test").ID() == 1, "test has id 1")
check(conn.lookupByID(1).name() == "test", "lookup by id")
check(conn.lookupByUUIDString("6695eb01-f6a4-8304-79aa-97f2502e193f").name() == "test", "lookup by uuid")
try:
    conn.lookupByName("nosuch")
    check(False, "lookup of a missing domain must fail")
except libvirt.libvirtError as e:
    check(e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN, f"missing domain error code {e.get_error_code()}")

# libvirtd's quirk for a driver without virDomainGetSecurityLabelList (the test driver): the
# reply carries ret = -1 and no error, which the client reports as an unknown error.
test_dom = conn.lookupByName("test")
check(test_dom.securityLabel() == ["libvirt-test", True], f"label {test_dom.securityLabel()}")
try:
    test_dom.securityLabelList()
    check(False, "securityLabelList must fail on the test driver")
except libvirt.libvirtError as e:
    check((e.get_error_code(), e.get_error_domain()) == (libvirt.VIR_ERR_INTERNAL_ERROR, 0),
          f"securityLabelList error {e.get_error_code()} {e.get_error_domain()}")

# Read-only refusals and unimplemented functions carry the error domain of the API's file.
ro = libvirt.openReadOnly(URI)
for what, call, want in [
    ("suspend", lambda: ro.lookupByName("test").suspend(), (E.VIR_ERR_OPERATION_DENIED, E.VIR_FROM_DOMAIN)),
    ("net destroy", lambda: ro.networkLookupByName("default").destroy(), (E.VIR_ERR_OPERATION_DENIED, E.VIR_FROM_NETWORK)),
    ("pool refresh", lambda: ro.storagePoolLookupByName("default-pool").refresh(), (E.VIR_ERR_OPERATION_DENIED, E.VIR_FROM_STORAGE)),
    ("blockCommit", lambda: test_dom.blockCommit("vda", None, None), (E.VIR_ERR_NO_SUPPORT, E.VIR_FROM_DOMAIN)),
    ("domcaps", lambda: conn.getDomainCapabilities(), (E.VIR_ERR_NO_SUPPORT, E.VIR_FROM_DOMAIN)),
]:
    try:
        call()
        check(False, f"{what} must fail")
    except libvirt.libvirtError as e:
        check((e.get_error_code(), e.get_error_domain()) == want,
              f"{what}: error {e.get_error_code()} {e.get_error_domain()} {e}")
ro.close()

dom = conn.defineXML(XML)
check(dom.name() == "py1" and not dom.isActive() and dom.isPersistent(), "defined inactive persistent")
check("<name>py1</name>" in dom.XMLDesc(0), "XMLDesc has the name")
dom.create()
check(dom.isActive() and dom.ID() > 0, "started")
check(dom.state() == [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED], f"state {dom.state()}")
dom.suspend()
check(dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED, "paused")
dom.resume()
check(dom.info()[0] == libvirt.VIR_DOMAIN_RUNNING, "running after resume")
check(dom.info()[1] == 131072 and dom.info()[3] == 1, f"info {dom.info()}")
dom.destroy()
check(not dom.isActive(), "destroyed")
dom.undefine()
check(sorted(d.name() for d in conn.listAllDomains()) == ["test"], "undefined")

deadline = time.time() + 10
while len(received) < len(EXPECTED) and time.time() < deadline:
    time.sleep(0.05)
conn.domainEventDeregisterAny(cb)
check(received == EXPECTED, f"events {received} != {EXPECTED}")
conn.close()
done.set()
print("ok: python3-libvirt lifecycle and events")
