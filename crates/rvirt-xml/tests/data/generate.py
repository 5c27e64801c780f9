#!/usr/bin/python3
"""Regenerates the expected outputs of the XML golden tests from a real libvirt test driver.

usage: generate.py URI     (e.g. test+unix:///default?socket=/tmp/DIR/libvirt-sock)

For every network/*.in.xml, pool/*.in.xml and vol/*.in.xml it defines the object through
libvirt (networks and pools) or creates it in a pool (volumes), writes what libvirt's dumpxml
returns to NAME.out.xml, or writes "CODE DOMAIN MESSAGE" to NAME.err when libvirt refuses the
document, then removes the object again. Volumes named logical-* go to a logical pool
`goldvg` (target /dev/goldvg), disk-* to a disk pool `golddisk` (target /dev), the others to
the test driver's `default-pool` (target /default-pool).
"""
import glob
import os
import sys

import libvirt

libvirt.registerErrorHandler(lambda ctx, err: None, None)
HERE = os.path.dirname(os.path.abspath(__file__))
conn = libvirt.open(sys.argv[1])

EXTRA_POOLS = {
    "logical": "<pool type='logical'><name>goldvg</name><source><device path='/dev/golddev'/></source></pool>",
    "disk": "<pool type='disk'><name>golddisk</name><source><device path='/dev/goldsd'/></source><target><path>/dev</path></target></pool>",
}


def pool_for(name):
    kind = name.split("-", 1)[0]
    if kind in EXTRA_POOLS:
        p = conn.storagePoolDefineXML(EXTRA_POOLS[kind])
        p.create(0)
        return p
    return conn.storagePoolLookupByName("default-pool")


def release_pool(p):
    if p.name() != "default-pool":
        p.destroy()
        p.undefine()


def run(kind, path):
    xml = open(path).read()
    name = os.path.basename(path)[: -len(".in.xml")]
    if kind == "network":
        obj = conn.networkDefineXML(xml)
        out = obj.XMLDesc(0)
        obj.undefine()
    elif kind == "pool":
        obj = conn.storagePoolDefineXML(xml)
        out = obj.XMLDesc(0)
        obj.undefine()
    else:
        pool = pool_for(name)
        try:
            obj = pool.createXML(xml, 0)
            out = obj.XMLDesc(0)
            obj.delete(0)
        finally:
            release_pool(pool)
    return out


for kind in ("network", "pool", "vol"):
    for path in sorted(glob.glob(os.path.join(HERE, kind, "*.in.xml"))):
        base = path[: -len(".in.xml")]
        for stale in (base + ".out.xml", base + ".err"):
            if os.path.exists(stale):
                os.unlink(stale)
        try:
            out = run(kind, path)
            with open(base + ".out.xml", "w") as f:
                f.write(out)
        except libvirt.libvirtError as e:
            with open(base + ".err", "w") as f:
                f.write("%d %d %s\n" % (e.get_error_code(), e.get_error_domain(), e.get_error_message()))
        print(os.path.relpath(base, HERE))
