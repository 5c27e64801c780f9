#!/usr/bin/python3
"""Regenerate the expected outputs of the domain XML golden tests from real libvirt.

For every input NAME.xml in this directory (not *.out.xml / *.live.xml) this defines the
document on libvirt's test driver and writes what libvirt answers:

  NAME.out.xml   virDomainGetXMLDesc(0) of the defined (inactive) domain
  NAME.live.xml  virDomainGetXMLDesc(0) after starting it (the live definition, with id)
  NAME.err       "<code> <domain> <message>" when libvirt refuses the document
  NAME.redefine.xml  what libvirt answers when its own NAME.out.xml is defined again, only
                 when that differs (libvirt renumbers some devices on the second pass)

The domain is undefined/destroyed again afterwards, so the script can run against a shared
daemon. Usage (needs Debian's python3-libvirt; use /usr/bin/python3):

  /usr/bin/python3 regen.py [URI]

URI defaults to $RVIRT_REF_URI, else 'test:///default' (libvirt's test driver, in process).
To use the reference daemon started with scripts/ref-libvirtd.sh start /tmp/DIR, pass
'test+unix:///default?socket=/tmp/DIR/libvirt-sock'.
"""

import os
import sys

import libvirt

HERE = os.path.dirname(os.path.abspath(__file__))


def inputs():
    for name in sorted(os.listdir(HERE)):
        if name.endswith(".xml") and not name.endswith((".out.xml", ".live.xml", ".redefine.xml")):
            yield name[: -len(".xml")]


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def remove(path):
    if os.path.exists(path):
        os.remove(path)


def main():
    uri = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("RVIRT_REF_URI", "test:///default")
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    conn = libvirt.open(uri)
    for base in inputs():
        with open(os.path.join(HERE, base + ".xml")) as f:
            xml = f.read()
        out, live, err, redef = (
            os.path.join(HERE, base + s) for s in (".out.xml", ".live.xml", ".err", ".redefine.xml")
        )
        try:
            dom = conn.defineXML(xml)
        except libvirt.libvirtError as e:
            write(err, "%d %d %s\n" % (e.get_error_code(), e.get_error_domain(), e.get_error_message()))
            remove(out)
            remove(live)
            remove(redef)
            print("%-24s refused: %s" % (base, e.get_error_message()))
            continue
        remove(err)
        first = dom.XMLDesc(0)
        write(out, first)
        dom.create()
        write(live, dom.XMLDesc(0))
        dom.destroy()
        dom.undefine()
        dom = conn.defineXML(first)
        second = dom.XMLDesc(0)
        dom.undefine()
        if second != first:
            write(redef, second)
        else:
            remove(redef)
        print("%-24s ok" % base)
    conn.close()


if __name__ == "__main__":
    main()
