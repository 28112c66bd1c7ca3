import { createSocket, type Socket } from 'node:dgram';

/** Finds a Service's ClusterIP; undefined when there is no such Service (or it has none). */
export type ServiceLookup = (namespace: string, name: string) => Promise<string | undefined>;

export const CLUSTER_DOMAIN = 'cluster.local';
const TYPE_A = 1;
const CLASS_IN = 1;
const RCODE_NXDOMAIN = 3;
const RCODE_FORMERR = 1;

export interface DnsQuestion {
  id: number;
  name: string;
  type: number;
  klass: number;
  /** The question section as received (echoed in the answer). */
  raw: Buffer;
  recursionDesired: boolean;
}

/** Parses a DNS query with exactly one question; undefined for anything else (untrusted input). */
export function parseQuestion(packet: Buffer): DnsQuestion | undefined {
  if (packet.length < 17 || packet.length > 512) return undefined;
  const flags = packet.readUInt16BE(2);
  if (flags & 0x8000 || packet.readUInt16BE(4) !== 1) return undefined; // a response, or not one question
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    const length = packet[offset];
    if (length === undefined || length > 63) return undefined; // no compression in questions
    offset += 1;
    if (length === 0) break;
    if (offset + length > packet.length) return undefined;
    labels.push(packet.toString('latin1', offset, offset + length).toLowerCase());
    offset += length;
  }
  if (offset + 4 > packet.length) return undefined;
  return {
    id: packet.readUInt16BE(0),
    name: labels.join('.'),
    type: packet.readUInt16BE(offset),
    klass: packet.readUInt16BE(offset + 2),
    raw: packet.subarray(12, offset + 4),
    recursionDesired: (flags & 0x0100) !== 0,
  };
}

/** `<service>.<namespace>.svc.cluster.local` → its parts; undefined for any other name. */
export function serviceName(name: string): { service: string; namespace: string } | undefined {
  const suffix = `.svc.${CLUSTER_DOMAIN}`;
  if (!name.endsWith(suffix)) return undefined;
  const parts = name.slice(0, -suffix.length).split('.');
  if (parts.length !== 2 || !parts.every((part) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(part)))
    return undefined;
  return { service: parts[0] as string, namespace: parts[1] as string };
}

export function answer(question: DnsQuestion, ip: string | undefined, nameExists: boolean): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(question.id, 0);
  const rcode = nameExists ? 0 : RCODE_NXDOMAIN;
  header.writeUInt16BE(0x8400 | (question.recursionDesired ? 0x0100 : 0) | rcode, 2); // QR, AA
  header.writeUInt16BE(1, 4);
  const records: Buffer[] = [];
  if (ip && question.type === TYPE_A && question.klass === CLASS_IN) {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(5, 6); // TTL: a re-created Service gets a new IP
    record.writeUInt16BE(4, 10);
    for (const [index, octet] of ip.split('.').entries()) record.writeUInt8(Number(octet), 12 + index);
    records.push(record);
  }
  header.writeUInt16BE(records.length, 6);
  return Buffer.concat([header, question.raw, ...records]);
}

function formatError(packet: Buffer): Buffer | undefined {
  if (packet.length < 12) return undefined;
  const header = Buffer.from(packet.subarray(0, 12));
  header.writeUInt16BE(0x8000 | RCODE_FORMERR, 2);
  header.fill(0, 4);
  return header;
}

/**
 * The real node's cluster DNS (there is no CoreDNS image without a
 * registry): answers A queries for Services' ClusterIPs,
 * `<service>.<namespace>.svc.cluster.local`, and NXDOMAIN for every other
 * name. Listens on UDP `address`:53, the node's bridge address, which the
 * kubelet gives pods as their nameserver.
 */
export async function startClusterDns(address: string, lookup: ServiceLookup, port = 53): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.on('message', (packet, peer) => {
    const question = parseQuestion(packet);
    if (!question) {
      const reply = formatError(packet);
      if (reply) socket.send(reply, peer.port, peer.address);
      return;
    }
    const service = serviceName(question.name);
    const resolved = service
      ? lookup(service.namespace, service.service).catch(() => undefined)
      : Promise.resolve(undefined);
    void resolved.then((ip) => {
      socket.send(answer(question, ip, ip !== undefined), peer.port, peer.address);
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => {});
  return socket;
}
