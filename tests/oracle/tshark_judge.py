#!/usr/bin/env python3
"""tshark_judge.py - Wireshark's BPv7 dissector judges bundles we produce.

An oracle nobody in this project wrote (DESIGN.md 10): every bundle is put in
a UDP datagram to port 4556 (the BP/UDP convergence layer port, where tshark's
"bundle" dissector hands it to "bpv7") with text2pcap, dissected with
`tshark -T pdml`, and judged here from the PDML alone, with one exception:
a small CBOR walker below splits the bytes into blocks so that tshark's
block count, CRC types and data lengths can be compared with what is
really in the bundle.

A bundle is judged good when all of these hold:
  - tshark dissected exactly one BPv7 bundle covering every byte;
  - nothing is marked malformed;
  - no expert item of severity Warning or Error, except "Unknown type code"
    (bpv7.sub_type_unknown: Wireshark has no dissector for that payload or
    block type, which says nothing about the bundle);
  - tshark shows one block per block in the bytes, with the same type code,
    block number, CRC type and data length;
  - every block with a CRC has a CRC status field, and it says Good;
  - the bundle carries CRCs (on every block for bundles bpctl encodes, on at
    least one for third-party vectors);
  - the values the case expects (EIDs, extension block fields, status report
    fields) are the ones tshark decoded.

Inputs: bundles encoded with `bpctl encode ... --hex` (--bpctl), accepted
vectors (*.hex in --vectors DIR, those that carry a CRC), and hex files named
on the command line. Negative controls (a flipped payload byte under
CRC-32C, a flipped primary-block CRC byte, trailing bytes, a truncated
bundle) must be judged bad, each for its own reason, so a judge that cannot
fail does not pass.

Prints "ok NAME", "FAIL NAME: reason" or "skip NAME: reason" per bundle and
a final "N passed, M failed" line. Exit 0 when nothing failed, 1 otherwise,
2 on a usage error.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

UDP_PORT = 4556
PI_WARN = 0x00600000  # Wireshark expert severity "Warning" (epan/proto.h)
TOLERATED_EXPERTS = {'bpv7.sub_type_unknown'}
CRC_NAMES = {0: 'no CRC', 1: 'CRC-16', 2: 'CRC-32C'}
CRC_STATUS = {0: 'Bad', 1: 'Good', 2: 'Unverified', 3: 'Not present', 4: 'Illegal'}
STATUS_NAMES = ('received', 'forwarded', 'delivered', 'deleted')


# --- A minimal CBOR walker (RFC 8949 3), only to find the blocks -----------

class CborError(Exception):
    pass


def cbor_head(buf, pos):
    """Return (major type, argument or None if indefinite, position after)."""
    if pos >= len(buf):
        raise CborError('input ends at byte %d' % pos)
    ib = buf[pos]
    major, info = ib >> 5, ib & 0x1f
    pos += 1
    if info < 24:
        return major, info, pos
    if info in (24, 25, 26, 27):
        n = 1 << (info - 24)
        if pos + n > len(buf):
            raise CborError('input ends inside an item head at byte %d' % pos)
        return major, int.from_bytes(buf[pos:pos + n], 'big'), pos + n
    if info == 31 and major in (2, 3, 4, 5, 7):
        return major, None, pos
    raise CborError('reserved additional information %d at byte %d' % (info, pos - 1))


def cbor_skip(buf, pos, depth=0):
    """Return the position after the data item that starts at pos."""
    if depth > 64:
        raise CborError('nesting deeper than 64')
    major, arg, pos = cbor_head(buf, pos)
    if major in (0, 1):
        return pos
    if major in (2, 3):
        if arg is None:
            while buf[pos:pos + 1] != b'\xff':
                pos = cbor_skip(buf, pos, depth + 1)
            return pos + 1
        if pos + arg > len(buf):
            raise CborError('string runs past the end of the input')
        return pos + arg
    if major in (4, 5):
        if arg is None:
            while True:
                if pos >= len(buf):
                    raise CborError('indefinite container without a break')
                if buf[pos] == 0xff:
                    return pos + 1
                pos = cbor_skip(buf, pos, depth + 1)
        for _ in range(arg * (2 if major == 5 else 1)):
            pos = cbor_skip(buf, pos, depth + 1)
        return pos
    if major == 6:
        return cbor_skip(buf, pos, depth + 1)
    if arg is None:
        raise CborError('unexpected break at byte %d' % (pos - 1))
    return pos


def cbor_uint(buf, pos):
    major, arg, end = cbor_head(buf, pos)
    return (arg if major == 0 and arg is not None else None), end


def split_blocks(buf):
    """Split a bundle into blocks (RFC 9171 4.1, 4.3).

    Returns (blocks, end): a list of dicts, the primary block first (start,
    end, crc_type, and for canonical blocks type, number, data_off, data_len),
    and the offset just after the array's break. Raises CborError when the
    bytes do not start with one indefinite array of arrays.
    """
    if not buf or buf[0] != 0x9f:
        raise CborError('not an indefinite-length array')
    blocks, pos = [], 1
    while True:
        if pos >= len(buf):
            raise CborError('no break at the end of the bundle array')
        if buf[pos] == 0xff:
            return blocks, pos + 1
        blocks.append(split_block(buf, pos, primary=not blocks))
        pos = blocks[-1]['end']


def split_block(buf, start, primary):
    major, count, pos = cbor_head(buf, start)
    if major != 4 or count is None:
        raise CborError('block at byte %d is not a definite array' % start)
    blk = {'start': start, 'crc_type': None}
    for i in range(count):
        if primary and i == 2:
            blk['crc_type'], _ = cbor_uint(buf, pos)
        elif not primary and i in (0, 1, 3):
            key = {0: 'type', 1: 'number', 3: 'crc_type'}[i]
            blk[key], _ = cbor_uint(buf, pos)
        elif not primary and i == 4:
            m, n, p = cbor_head(buf, pos)
            if m == 2 and n is not None:
                blk['data_off'], blk['data_len'] = p, n
        pos = cbor_skip(buf, pos)
    blk['end'] = pos
    return blk


# --- Reading tshark's PDML ------------------------------------------------

def ival(text):
    try:
        return int(text, 0)
    except (TypeError, ValueError):
        return None


def direct_field(el, name):
    for ch in el:
        if ch.tag == 'field' and ch.get('name') == name:
            return ch.get('show')
    return None


def block_label(i, blk):
    if i == 0:
        return 'primary block'
    return 'block[%d] (type %s, number %s)' % (i, blk.get('type'), blk.get('number'))


class Verdict:
    """Problems found, each tagged with the check that found it."""

    def __init__(self):
        self.problems = []  # (tag, text)
        self.notes = []

    def bad(self, tag, text):
        self.problems.append((tag, text))

    def tags(self):
        return {t for t, _ in self.problems}

    def reason(self):
        return '; '.join(text for _, text in self.problems[:4]) + (
            '; ...' if len(self.problems) > 4 else '')


def judge_experts(packet, v):
    for ex in packet.iter('field'):
        if ex.get('name') != '_ws.expert':
            continue
        owner = sev = msg = None
        for ch in ex:
            n = ch.get('name', '')
            if n == '_ws.expert.severity':
                sev = ival(ch.get('show'))
            elif n == '_ws.expert.message':
                msg = ch.get('show')
            elif owner is None and not n.startswith('_ws.expert'):
                owner = n
        text = '%s [%s]' % (msg or ex.get('showname', '?'), owner)
        if sev is None or sev < PI_WARN:
            v.notes.append('expert (below Warning): ' + text)
        elif owner in TOLERATED_EXPERTS:
            v.notes.append('tolerated expert: ' + text)
        else:
            tag = 'crc' if owner == 'bpv7.block_failed_crc' else 'expert'
            v.bad(tag, 'tshark expert %s: %s' % (ex.get('showname', '').split(':')[0]
                                                  .replace('Expert Info ', ''), text))


def judge_blocks(bp, blocks, v):
    shown = [el for el in bp if el.tag == 'proto' and el.get('name') == 'bpv7.block']
    if blocks is not None and len(shown) != len(blocks):
        v.bad('blocks', 'tshark dissected %d blocks, the bundle has %d' % (len(shown), len(blocks)))
    for i, el in enumerate(shown):
        blk = blocks[i] if blocks is not None and i < len(blocks) else {}
        label = block_label(i, blk) if blk else 'block[%d]' % i
        ctype = ival(direct_field(el, 'bpv7.crc_type'))
        if blk and ctype != blk['crc_type']:
            v.bad('blocks', '%s: tshark read CRC type %s, the bytes say %s'
                  % (label, ctype, blk['crc_type']))
        if i > 0 and blk:
            for key, fname in (('type', 'bpv7.canonical.type_code'),
                               ('number', 'bpv7.canonical.block_num'),
                               ('data_len', 'bpv7.canonical.data')):
                got = ival(direct_field(el, fname))
                if got != blk.get(key):
                    v.bad('blocks', '%s: tshark read %s %s, the bytes say %s'
                          % (label, fname, got, blk.get(key)))
        if ctype in (1, 2):
            status = ival(direct_field(el, 'bpv7.crc_status'))
            if status is None:
                v.bad('crc', '%s: %s not verified by tshark' % (label, CRC_NAMES[ctype]))
            elif status != 1:
                v.bad('crc', '%s: %s status %s' % (label, CRC_NAMES[ctype],
                                                    CRC_STATUS.get(status, status)))


def field_shows(packet, name):
    return [el.get('show') for el in packet.iter('field') if el.get('name') == name]


def judge_expectations(packet, expects, status, v):
    for name, want in expects:
        shows = field_shows(packet, name)
        if not shows:
            v.bad('expect', 'tshark shows no %s' % name)
        elif want is not None and want not in shows:
            v.bad('expect', '%s is %s, expected %s' % (name, '/'.join(shows), want))
    if status is None:
        return
    asserted = set()
    for el in packet.iter('field'):
        n = el.get('name', '')
        if n.startswith('bpv7.status_rep.') and n[16:] in STATUS_NAMES:
            if direct_field(el, 'bpv7.status_assert.val') == '1':
                asserted.add(n[16:])
    want = set(status.split(','))
    if asserted != want:
        v.bad('expect', 'status report asserts %s, expected %s'
              % (','.join(sorted(asserted)) or 'nothing', ','.join(sorted(want))))


def judge_pdml(pdml, bundle, require_crc, expects=(), status=None):
    """Judge tshark's PDML for one datagram carrying `bundle`."""
    v = Verdict()
    try:
        root = ET.fromstring(pdml)
    except ET.ParseError as e:
        v.bad('tshark', 'unreadable PDML: %s' % e)
        return v
    packets = root.findall('packet')
    if len(packets) != 1:
        v.bad('tshark', 'expected 1 packet in the capture, tshark shows %d' % len(packets))
        return v
    packet = packets[0]
    bps = [el for el in packet if el.tag == 'proto' and el.get('name') == 'bpv7']
    if len(bps) != 1:
        protos = field_shows(packet, 'frame.protocols')
        v.bad('malformed', 'tshark found %d BPv7 bundles (protocols: %s)'
              % (len(bps), protos[0] if protos else '?'))
    if any(el.get('name', '').startswith('_ws.malformed') for el in packet.iter()):
        v.bad('malformed', 'tshark marks the packet malformed')
    judge_experts(packet, v)
    try:
        blocks, end = split_blocks(bundle)
        if end != len(bundle):
            v.bad('length', '%d bytes after the bundle' % (len(bundle) - end))
    except CborError as e:
        blocks = None
        v.bad('malformed', 'the bytes are not one complete bundle array: %s' % e)
    if len(bps) == 1:
        size = ival(bps[0].get('size'))
        if size != len(bundle):
            v.bad('length', 'tshark dissected %s of the %d bytes' % (size, len(bundle)))
        judge_blocks(bps[0], blocks, v)
    if blocks is not None:
        crcs = [b['crc_type'] for b in blocks]
        if require_crc == 'all' and 0 in crcs:
            v.bad('nocrc', '%d of %d blocks carry no CRC' % (crcs.count(0), len(crcs)))
        if require_crc == 'any' and not any(crcs):
            v.bad('nocrc', 'no block carries a CRC')
    judge_expectations(packet, expects, status, v)
    return v


# --- Running text2pcap and tshark ----------------------------------------

class Tshark:
    def __init__(self, workdir, keep):
        self.workdir = workdir
        self.keep = keep
        self.env = dict(os.environ)
        # Our own, empty preferences: a user's Wireshark profile must not
        # change the verdict.
        self.env['WIRESHARK_CONFIG_DIR'] = os.path.join(workdir, 'wireshark')
        os.makedirs(self.env['WIRESHARK_CONFIG_DIR'], exist_ok=True)

    def pdml(self, name, bundle):
        base = os.path.join(self.workdir, name.replace('/', '_'))
        with open(base + '.txt', 'w') as f:
            for off in range(0, len(bundle), 16):
                f.write('%06x %s\n' % (off, ' '.join('%02x' % b for b in bundle[off:off + 16])))
        port = str(UDP_PORT)
        run(['text2pcap', '-q', '-u', port + ',' + port, base + '.txt', base + '.pcapng'],
            self.env)
        out = run(['tshark', '-n', '-r', base + '.pcapng', '-T', 'pdml',
                   '-o', 'bpv7.bp_compute_crc:TRUE'], self.env)
        if self.keep:
            os.makedirs(self.keep, exist_ok=True)
            shutil.copy(base + '.pcapng', self.keep)
            with open(os.path.join(self.keep, os.path.basename(base) + '.pdml'), 'wb') as f:
                f.write(out)
        return out


class ToolError(Exception):
    pass


def run(argv, env=None):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                           timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolError('%s: %s' % (argv[0], e))
    if p.returncode != 0:
        err = [l for l in p.stderr.decode(errors='replace').splitlines()
               if l.strip() and 'Running as user' not in l and not l.startswith('---')]
        raise ToolError('%s exited %d: %s' % (os.path.basename(argv[0]), p.returncode,
                                              err[0] if err else 'no message'))
    return p.stdout


def read_hex(path):
    with open(path) as f:
        text = ''.join(line.split('#')[0] for line in f)
    text = ''.join(text.split())
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ToolError('%s is not hex' % path)


# --- The bundles ------------------------------------------------------------

T0 = '813110400000'  # 2025-10-07T00:00:00Z as DTN time (ms since 2000-01-01)


class Case:
    def __init__(self, name, args, expects=(), status=None, payload=None):
        self.name, self.args = name, args
        self.expects = [(e.split('=', 1) + [None])[:2] for e in expects]
        self.status = status
        self.payload = payload  # size of a generated --payload-file


def ipn(crc, *more):
    return ['--source', 'ipn:1.1', '--dest', 'ipn:2.1', '--time', T0, '--crc', crc] + list(more)


REPORT_FLAGS = str(0x000004 | 0x000020 | 0x000040 | 0x004000 | 0x010000 | 0x020000 | 0x040000)

CASES = [
    Case('ipn-crc32c', ipn('32c', '--payload', 'hello from bpsock'),
         ['bpv7.primary.src_uri=ipn:1.1', 'bpv7.primary.dst_uri=ipn:2.1',
          'bpv7.primary.report_uri', 'bpv7.time.dtntime=' + T0]),
    Case('ipn-crc16', ipn('16', '--payload', 'hello from bpsock'),
         ['bpv7.primary.src_uri=ipn:1.1', 'bpv7.primary.dst_uri=ipn:2.1']),
    Case('ipn-large-numbers-crc32c',
         ['--source', 'ipn:4294967295.65536', '--dest', 'ipn:65536.4294967295',
          '--report-to', 'ipn:4294967295.0', '--time', '18446744073709551615',
          '--seq', '18446744073709551615', '--lifetime', '4294967296', '--crc', '32c',
          '--payload', 'large numbers'],
         ['bpv7.primary.src_uri=ipn:4294967295.65536',
          'bpv7.primary.dst_uri=ipn:65536.4294967295',
          'bpv7.primary.report_uri=ipn:4294967295.0',
          'bpv7.time.dtntime=18446744073709551615',
          'bpv7.create_ts.seqno=18446744073709551615', 'bpv7.primary.lifetime=4294967296']),
    Case('dtn-crc32c',
         ['--source', 'dtn://src.example/app', '--dest', 'dtn://dst.example/inbox',
          '--report-to', 'dtn://src.example/', '--time', T0, '--seq', '1', '--crc', '32c',
          '--payload', 'dtn scheme'],
         ['bpv7.primary.src_uri=dtn://src.example/app',
          'bpv7.primary.dst_uri=dtn://dst.example/inbox',
          'bpv7.primary.report_uri=dtn://src.example/', 'bpv7.create_ts.seqno=1']),
    Case('dtn-anonymous-crc16',
         ['--source', 'dtn:none', '--dest', 'dtn://dst.example/inbox', '--report-to', 'dtn:none',
          '--flags', '4', '--time', T0, '--crc', '16', '--payload', 'anonymous'],
         ['bpv7.primary.src_uri=dtn:none', 'bpv7.primary.report_uri=dtn:none',
          'bpv7.primary.bundle_flags.no_fragment=1']),
    Case('report-flags-crc32c',
         ipn('32c', '--report-to', 'ipn:1.0', '--flags', REPORT_FLAGS, '--lifetime', '3600000',
             '--seq', '42', '--payload', 'reports please'),
         ['bpv7.primary.bundle_flags.reception_report=1',
          'bpv7.primary.bundle_flags.forwarding_report=1',
          'bpv7.primary.bundle_flags.delivery_report=1',
          'bpv7.primary.bundle_flags.deletion_report=1',
          'bpv7.primary.bundle_flags.req_status_time=1',
          'bpv7.primary.bundle_flags.user_app_ack=1',
          'bpv7.primary.lifetime=3600000', 'bpv7.create_ts.seqno=42']),
    Case('prev-node-ipn-crc16', ipn('16', '--prev-node', 'ipn:7.0', '--payload', 'via 7'),
         ['bpv7.previous_node.uri=ipn:7.0', 'bpv7.canonical.type_code=6']),
    Case('prev-node-dtn-crc32c',
         ['--source', 'dtn://src.example/app', '--dest', 'dtn://dst.example/inbox',
          '--time', T0, '--prev-node', 'dtn://relay.example/', '--crc', '32c',
          '--payload', 'via relay'],
         ['bpv7.previous_node.uri=dtn://relay.example/']),
    Case('age-no-clock-crc32c',
         ['--source', 'ipn:1.1', '--dest', 'ipn:2.1', '--time', '0', '--age', '1234',
          '--crc', '32c', '--payload', 'no clock'],
         ['bpv7.bundle_age.time=1234', 'bpv7.time.dtntime=0', 'bpv7.canonical.type_code=7']),
    Case('age-crc16', ipn('16', '--age', '86400000', '--payload', 'one day old'),
         ['bpv7.bundle_age.time=86400000']),
    Case('hop-count-crc16', ipn('16', '--hop-limit', '30', '--hop-count', '3', '--payload', 'hops'),
         ['bpv7.hop_count.limit=30', 'bpv7.hop_count.current=3', 'bpv7.canonical.type_code=10']),
    Case('hop-count-crc32c', ipn('32c', '--hop-limit', '255', '--hop-count', '0',
                                 '--payload', 'hops'),
         ['bpv7.hop_count.limit=255', 'bpv7.hop_count.current=0']),
    Case('all-extensions-crc32c',
         ipn('32c', '--prev-node', 'ipn:9.0', '--age', '5000', '--hop-limit', '16',
             '--hop-count', '2', '--lifetime', '60000', '--seq', '7', '--payload',
             'every extension block'),
         ['bpv7.previous_node.uri=ipn:9.0', 'bpv7.bundle_age.time=5000',
          'bpv7.hop_count.limit=16', 'bpv7.hop_count.current=2']),
    Case('all-extensions-dtn-crc16',
         ['--source', 'dtn://src.example/app', '--dest', 'dtn://dst.example/inbox',
          '--time', '0', '--crc', '16', '--prev-node', 'dtn://relay.example/', '--age', '1',
          '--hop-limit', '1', '--hop-count', '1', '--payload', 'every extension block'],
         ['bpv7.previous_node.uri=dtn://relay.example/', 'bpv7.bundle_age.time=1',
          'bpv7.hop_count.limit=1', 'bpv7.hop_count.current=1']),
    Case('unknown-block-crc32c', ipn('32c', '--block', '192:0:deadbeef', '--payload', 'x'),
         ['bpv7.canonical.type_code=192']),
    Case('unknown-blocks-flags-crc16',
         ipn('16', '--block', '200:1:00', '--block', '201:16:a1616101', '--hop-limit', '8',
             '--hop-count', '0', '--payload', 'two unknown blocks'),
         ['bpv7.canonical.type_code=200', 'bpv7.canonical.type_code=201',
          'bpv7.canonical.block_flags.replicate_in_fragment=1',
          'bpv7.canonical.block_flags.discard_if_no_process=1']),
    Case('fragment-first-crc32c', ipn('32c', '--fragment', '0:1000'),
         ['bpv7.primary.bundle_flags.is_fragment=1', 'bpv7.primary.frag_offset=0',
          'bpv7.primary.total_len=1000'], payload=400),
    Case('fragment-last-crc16', ipn('16', '--fragment', '600:1000'),
         ['bpv7.primary.frag_offset=600', 'bpv7.primary.total_len=1000'], payload=400),
    Case('fragment-extensions-crc32c',
         ipn('32c', '--fragment', '100:100000', '--prev-node', 'ipn:3.0', '--hop-limit', '10',
             '--hop-count', '1', '--block', '193:1:0102'),
         ['bpv7.primary.frag_offset=100', 'bpv7.primary.total_len=100000',
          'bpv7.previous_node.uri=ipn:3.0'], payload=1000),
    Case('payload-3000-crc32c', ipn('32c'), ['bpv7.canonical.data=3000'], payload=3000),
    Case('status-report-received-crc32c',
         ['--source', 'ipn:2.0', '--dest', 'ipn:1.0', '--time', T0, '--crc', '32c',
          '--status-report', 'received:0:ipn:1.1:813110300000:7'],
         ['bpv7.primary.bundle_flags.payload_admin=1', 'bpv7.admin_rec.type_code=1',
          'bpv7.status_rep.reason_code=0', 'bpv7.status_rep.subj_src_uri=ipn:1.1',
          'bpv7.time.dtntime=813110300000', 'bpv7.create_ts.seqno=7'],
         status='received'),
    Case('status-report-all-dtn-crc16',
         ['--source', 'dtn://reporter.example/', '--dest', 'dtn://src.example/', '--time', T0,
          '--crc', '16', '--status-report',
          'received,forwarded,delivered,deleted:4:dtn://src.example/app:0:3'],
         ['bpv7.admin_rec.type_code=1', 'bpv7.status_rep.reason_code=4',
          'bpv7.status_rep.subj_src_uri=dtn://src.example/app', 'bpv7.create_ts.seqno=3'],
         status='received,forwarded,delivered,deleted'),
    Case('status-report-times-crc32c',
         ['--source', 'ipn:2.0', '--dest', 'ipn:1.0', '--time', T0, '--crc', '32c',
          '--status-time', '--status-report', 'received,forwarded:0:ipn:1.1:813110300000:8'],
         ['bpv7.primary.bundle_flags.req_status_time=1', 'bpv7.status_assert.time',
          'bpv7.status_rep.reason_code=0', 'bpv7.create_ts.seqno=8'],
         status='received,forwarded'),
    Case('status-report-deleted-crc32c',
         ['--source', 'ipn:5.0', '--dest', 'ipn:1.0', '--time', T0, '--crc', '32c',
          '--status-report', 'deleted:1:ipn:1.1:813110400000:0', '--age', '10'],
         ['bpv7.status_rep.reason_code=1', 'bpv7.bundle_age.time=10'],
         status='deleted'),
]


# --- Negative controls: the judge must be able to say no ------------------

def flip_payload_byte(bundle, blocks):
    pay = [b for b in blocks if b.get('type') == 1 and b.get('data_len')]
    if not pay:
        return None
    out = bytearray(bundle)
    out[pay[-1]['data_off']] ^= 0x01
    return bytes(out)


def flip_primary_crc(bundle, blocks):
    if not blocks[0]['crc_type']:
        return None
    out = bytearray(bundle)
    out[blocks[0]['end'] - 1] ^= 0x80
    return bytes(out)


CONTROLS = [
    # (name, mutation, the check that must object)
    ('payload-byte-flipped', flip_payload_byte, 'crc'),
    ('primary-crc-flipped', flip_primary_crc, 'crc'),
    ('trailing-bytes', lambda b, _: b + b'\x00\x00\x00\x00', 'length'),
    ('truncated', lambda b, _: b[:len(b) * 2 // 3], 'malformed'),
]


# --- Driver ---------------------------------------------------------------

class Report:
    def __init__(self, verbose):
        self.passed = self.failed = self.skipped = 0
        self.verbose = verbose

    def ok(self, name, extra=''):
        self.passed += 1
        print('ok %s%s' % (name, extra))

    def fail(self, name, reason):
        self.failed += 1
        print('FAIL %s: %s' % (name, reason))

    def skip(self, name, reason):
        self.skipped += 1
        print('skip %s: %s' % (name, reason))

    def detail(self, verdict):
        if self.verbose:
            for n in verdict.notes:
                print('    ' + n)


def judge_good(ts, rep, name, bundle, require_crc, expects=(), status=None):
    """Judge one bundle that must pass; returns True when it did."""
    try:
        v = judge_pdml(ts.pdml(name, bundle), bundle, require_crc, expects, status)
    except ToolError as e:
        rep.fail(name, str(e))
        return False
    rep.detail(v)
    if v.problems:
        rep.fail(name, v.reason())
        return False
    rep.ok(name)
    return True


def judge_bad(ts, rep, name, bundle, want_tag=None):
    try:
        v = judge_pdml(ts.pdml(name, bundle), bundle, 'any')
    except ToolError as e:
        rep.fail(name, str(e))
        return
    rep.detail(v)
    if not v.problems:
        rep.fail(name, 'the judge accepted a corrupted bundle')
    elif want_tag and want_tag not in v.tags():
        rep.fail(name, 'judged bad, but not by the %s check: %s' % (want_tag, v.reason()))
    else:
        rep.ok(name, ' (judged bad: %s)' % v.reason())


def run_cases(ts, rep, bpctl, workdir):
    """Encode and judge every case; return the bundles judged good by name."""
    good = {}
    for case in CASES:
        args = list(case.args)
        if case.payload:
            path = os.path.join(workdir, 'payload-%d' % case.payload)
            with open(path, 'wb') as f:
                f.write(bytes((i * 7 + 3) & 0xff for i in range(case.payload)))
            args += ['--payload-file', path]
        try:
            out = run([bpctl, 'encode'] + args + ['--hex'])
            bundle = bytes.fromhex(''.join(out.decode().split()))
        except (ToolError, ValueError, UnicodeDecodeError) as e:
            rep.fail(case.name, 'bpctl encode %s: %s' % (' '.join(args), e))
            continue
        if judge_good(ts, rep, case.name, bundle, 'all', case.expects, case.status):
            good[case.name] = bundle
    return good


def run_controls(ts, rep, base_name, base):
    blocks, _ = split_blocks(base)
    for name, mutate, tag in CONTROLS:
        bad = mutate(base, blocks)
        full = 'control/%s(%s)' % (name, base_name)
        if bad is None:
            rep.fail(full, 'cannot build this control from the base bundle')
            continue
        judge_bad(ts, rep, full, bad, tag)


def all_crc32c(bundle):
    try:
        return all(b['crc_type'] == 2 for b in split_blocks(bundle)[0])
    except CborError:
        return False


def run_vectors(ts, rep, vdir):
    good = {}
    names = sorted(n for n in os.listdir(vdir) if n.endswith('.hex'))
    if not names:
        rep.fail('vectors', 'no *.hex in %s' % vdir)
    for n in names:
        name = 'vector/' + n[:-4]
        try:
            bundle = read_hex(os.path.join(vdir, n))
            if not any(b['crc_type'] for b in split_blocks(bundle)[0]):
                rep.skip(name, 'carries no CRC')
                continue
        except (ToolError, CborError) as e:
            rep.fail(name, str(e))
            continue
        if judge_good(ts, rep, name, bundle, 'any'):
            good[name] = bundle
    return good


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--bpctl', help='bpctl to encode the cases with')
    ap.add_argument('--vectors', action='append', default=[],
                    help='directory of accepted *.hex vectors (default with --bpctl: '
                    'tests/vectors/bpv7)')
    ap.add_argument('--hex-file', action='append', default=[], metavar='FILE',
                    help='also judge this bundle (hex); it must be judged good')
    ap.add_argument('--bad-hex-file', action='append', default=[], metavar='FILE',
                    help='also judge this bundle (hex); it must be judged bad')
    ap.add_argument('--keep', metavar='DIR', help='keep the pcapng and PDML files here')
    ap.add_argument('-v', '--verbose', action='store_true',
                    help='list tolerated and low-severity expert items')
    a = ap.parse_args()
    if a.bpctl and not a.vectors:
        a.vectors = [os.path.join(here, '..', 'vectors', 'bpv7')]
    if not (a.bpctl or a.vectors or a.hex_file or a.bad_hex_file):
        ap.error('nothing to judge: give --bpctl, --vectors, --hex-file or --bad-hex-file')

    rep = Report(a.verbose)
    with tempfile.TemporaryDirectory(prefix='tshark_judge.') as workdir:
        ts = Tshark(workdir, a.keep)
        good = {}
        if a.bpctl:
            good.update(run_cases(ts, rep, a.bpctl, workdir))
        for d in a.vectors:
            good.update(run_vectors(ts, rep, d))
        for path in a.hex_file:
            name = 'file/' + os.path.basename(path)
            try:
                bundle = read_hex(path)
            except (OSError, ToolError) as e:
                rep.fail(name, str(e))
                continue
            if judge_good(ts, rep, name, bundle, 'any'):
                good[name] = bundle
        for path in a.bad_hex_file:
            name = 'file/' + os.path.basename(path)
            try:
                judge_bad(ts, rep, name, read_hex(path))
            except (OSError, ToolError) as e:
                rep.fail(name, str(e))
        # The controls corrupt a bundle that has just passed, with CRC-32C on
        # every block: bpctl's own when there is one.
        bases = [(n, b) for n, b in good.items() if all_crc32c(b)]
        preferred = [(n, b) for n, b in bases if n == 'ipn-crc32c']
        if preferred or bases:
            run_controls(ts, rep, *(preferred or bases)[0])
        elif a.bpctl:
            rep.fail('controls', 'no bundle with CRC-32C on every block passed to corrupt')

    print('%d passed, %d failed%s' % (rep.passed, rep.failed,
                                      ', %d skipped' % rep.skipped if rep.skipped else ''))
    return 1 if rep.failed or not rep.passed else 0


if __name__ == '__main__':
    sys.exit(main())
