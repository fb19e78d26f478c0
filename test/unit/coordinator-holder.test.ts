// The lease holder actor against an in-process root on virtual time: campaign, standby rejection, release on
// stop with takeover by a standby without traffic, takeover after a killed holder's expiry, fail-stop when the
// root is unreachable, a planned handover through Seal -> Issue -> Confirm -> Close, and a crashed holder actor
// restarted by its supervisor as a standby that campaigns again. Allocated values never repeat and timestamps
// strictly increase across every era change.
import { expect } from 'chai';
import { ActorSystem } from '../../src/actors/index.js';
import { ManualClock } from '../../src/common/clock.js';
import { SeededPrng } from '../../src/common/prng.js';
import { silentLogger } from '../../src/common/log.js';
import { LeaseHolder } from '../../src/coordinator/holder.js';
import { leaseTiming } from '../../src/coordinator/lease.js';
import type { RootViewHandle } from '../../src/coordinator/root-view.js';
import { InvalidArgumentError } from '../../src/common/errors.js';
import { isNotHolder } from '../../src/coordinator/errors.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import type { TenureCommand } from '../../src/metaroot/state/index.js';
import { FakeRoot } from '../fixtures/coordinator-fake-root.js';
import { startViewParts, type ViewParts } from '../fixtures/coordinator-view.js';

const timing = leaseTiming(3000, 1000);
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

interface Node {
  id: string;
  view: RootViewHandle;
  parts: ViewParts;
  holder: LeaseHolder;
  actors: ActorSystem;
  supervisor?: Supervisor;
}

class Harness {
  readonly clock = new ManualClock(1_700_000_000_000);
  readonly root = new FakeRoot(this.clock);
  readonly nodes = new Map<string, Node>();
  readonly ids: bigint[] = [];
  readonly tsos: bigint[] = [];

  /** A coordinator; `supervised` runs the holder actor under its own supervisor, as the role does. */
  async add(id: string, supervised = false): Promise<Node> {
    const actors = await ActorSystem.start({ role: 'coordinator', node: id, clock: this.clock, logger: silentLogger() });
    const parts = await startViewParts(actors, this.root);
    const view = parts.view;
    const holder = new LeaseHolder({
      selfId: id,
      timing,
      root: this.root,
      view,
      actors,
      prng: new SeededPrng(id.length),
      takeOverPeer: (to, era) => this.nodes.get(to)!.holder.takeOver(era),
      addrOf: (peer) => (this.nodes.has(peer) ? `addr-of-${peer}` : undefined),
    });
    let supervisor: Supervisor | undefined;
    if (supervised) {
      supervisor = new Supervisor({ id: 'lease', strategy: 'one_for_one', intensity: 3, periodMs: 30_000, clock: this.clock, children: [holder.childSpec()] });
      await supervisor.start();
    } else await holder.start();
    const n: Node = { id, view, parts, holder, actors, ...(supervisor ? { supervisor } : {}) };
    this.nodes.set(id, n);
    await flush();
    return n;
  }

  /** Advances virtual time in small steps, letting promises run between them. */
  async run(ms: number, step = 10): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      this.clock.advance(step);
      await flush();
    }
  }

  async holders(): Promise<string[]> {
    const nodes = [...this.nodes.values()];
    const serving = await Promise.all(nodes.map(async (n) => (await n.holder.status()).serving));
    return nodes.filter((_, i) => serving[i]).map((n) => n.id);
  }

  /** One ID and one TSO from whoever serves; records them; returns the serving id or null. */
  async serveOnce(): Promise<string | null> {
    for (const n of this.nodes.values()) {
      try {
        const id = await n.holder.allocate('id', 1);
        const ts = await n.holder.allocate('tso', 1);
        this.ids.push(id.first);
        this.tsos.push(ts.first);
        return n.id;
      } catch (err) {
        if (!isNotHolder(err)) throw err;
      }
    }
    return null;
  }

  checkHistory(): void {
    expect(new Set(this.ids).size, 'duplicate id').to.equal(this.ids.length);
    for (let i = 1; i < this.tsos.length; i++) expect(this.tsos[i]! > this.tsos[i - 1]!, `tso ${i} not increasing`).to.equal(true);
  }

  async stopAll(): Promise<void> {
    for (const n of this.nodes.values()) {
      const stopping = n.supervisor ? n.supervisor.stop() : n.holder.stop();
      await flush();
      await stopping;
      const v = n.parts.stop();
      this.clock.advance(2000);
      await flush();
      await v;
      await n.actors.shutdown();
    }
    this.root.close();
  }
}

describe('coordinator lease holder (virtual time)', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness();
  });
  afterEach(async () => {
    await h.stopAll();
  });

  it('exactly one of three coordinators wins era 1; standbys refuse duties naming the holder', async () => {
    await h.add('coord-1');
    await h.add('coord-2');
    await h.add('coord-3');
    await h.run(200);
    expect((await h.holders())).to.have.length(1);
    const holder = (await h.holders())[0]!;
    expect(h.root.state.tenure).to.include({ holder_id: holder, era: 1 });
    const standby = [...h.nodes.values()].find((n) => n.id !== holder)!;
    try {
      await standby.holder.allocate('id', 1);
      expect.fail('a standby served');
    } catch (err) {
      expect(isNotHolder(err)).to.equal(true);
      expect((err as { details: Record<string, unknown> }).details).to.include({ holder_id: holder, era: 1 });
    }
  });

  it('renews before expiry and keeps one era while the root is reachable', async () => {
    await h.add('coord-1');
    await h.add('coord-2');
    await h.run(10_000, 50);
    expect(h.root.state.tenure.era).to.equal(1);
    expect((await h.holders())).to.have.length(1);
  });

  it('a graceful stop releases, and a standby takes over with a greater era without any traffic', async () => {
    const a = await h.add('coord-1');
    await h.run(100);
    await h.add('coord-2');
    await h.run(100);
    expect((await h.holders())).to.deep.equal(['coord-1']);
    for (let i = 0; i < 5; i++) expect(await h.serveOnce()).to.equal('coord-1');
    const stopping = a.holder.stop();
    await flush();
    await stopping;
    expect(a.holder.actorRef).to.equal(undefined);
    const t0 = h.clock.now();
    await h.run(200);
    expect((await h.holders())).to.deep.equal(['coord-2']);
    expect(h.root.state.tenure.era).to.equal(2);
    expect(h.clock.now() - t0).to.be.at.most(200);
    for (let i = 0; i < 5; i++) expect(await h.serveOnce()).to.equal('coord-2');
    h.checkHistory();
  });

  it('after a crashed holder (no release) a standby takes over once the tenure expires', async () => {
    const a = await h.add('coord-1');
    await h.run(100);
    await h.add('coord-2');
    await h.run(100);
    await h.serveOnce();
    // Crash: the holder actor is killed, so nothing is released.
    await a.actors.kill(a.holder.actorRef!);
    expect((await a.holder.status()).serving).to.equal(false);
    const expires = h.root.state.tenure.expires_unix_ms;
    await h.run(1000);
    expect(h.root.state.tenure.holder_id).to.equal('coord-1');
    await h.run(expires - h.clock.now() + 200);
    expect(h.root.state.tenure).to.include({ holder_id: 'coord-2', era: 2 });
    expect(await h.serveOnce()).to.equal('coord-2');
    h.checkHistory();
  });

  it('a holder that cannot renew stops serving before the expiry a successor waits for', async () => {
    const a = await h.add('coord-1');
    await h.run(100);
    expect((await h.holders())).to.deep.equal(['coord-1']);
    h.root.down = true;
    const expires = h.root.state.tenure.expires_unix_ms;
    await h.run(expires - timing.skewMarginMs - h.clock.now() - 10);
    expect((await a.holder.status()).serving).to.equal(true);
    await h.run(20);
    expect((await a.holder.status()).serving).to.equal(false);
    await h.run(expires - h.clock.now() + 10);
    expect((await a.holder.status()).serving).to.equal(false);
    // Back after expiry: the renewal can no longer succeed, so the next era starts (era 2).
    h.root.down = false;
    await h.run(timing.ttlMs);
    expect(h.root.state.tenure.era).to.equal(2);
    expect((await a.holder.status()).serving).to.equal(true);
  });

  it('planned handover seals, the target issues the next era with the legacy digest, confirms and closes', async () => {
    await h.add('coord-1');
    await h.run(100);
    const b = await h.add('coord-2');
    await h.run(100);
    for (let i = 0; i < 3; i++) await h.serveOnce();
    const holder = h.nodes.get((await h.holders())[0]!)!;
    const target = holder.id === 'coord-1' ? 'coord-2' : 'coord-1';
    const done = holder.holder.handover(target);
    await h.run(100);
    const res = await done;
    expect(res).to.deep.equal({ legacyEra: 1, successorEra: 2, stage: 'closed' });
    expect(h.root.state.handover).to.include({ holder_id: target, legacy_era: 1, successor_era: 2, stage: 'closed' });
    expect((await h.holders())).to.deep.equal([target]);
    for (let i = 0; i < 3; i++) expect(await h.serveOnce()).to.equal(target);
    h.checkHistory();
    expect(b.holder.metrics.campaigns_won + h.nodes.get('coord-1')!.holder.metrics.campaigns_won).to.equal(2);
  });

  it('a handover to an unknown coordinator is refused before anything is sealed, and the holder keeps serving', async () => {
    await h.add('coord-1');
    await h.run(100);
    const holder = h.nodes.get('coord-1')!;
    expect((await h.holders())).to.deep.equal(['coord-1']);
    const err = await holder.holder.handover('coord-9').then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(InvalidArgumentError);
    expect(h.root.state.legacy, 'no era was sealed').to.equal(null);
    expect(h.root.state.tenure).to.include({ holder_id: 'coord-1', era: 1 });
    expect(await h.serveOnce()).to.equal('coord-1');
  });

  it('a restarted coordinator stays a standby while the tenure is live (quiet rejoin)', async () => {
    await h.add('coord-1');
    await h.run(100);
    await h.add('coord-2');
    await h.run(5000, 50);
    const era = h.root.state.tenure.era;
    const rejoined = await h.add('coord-3');
    await h.run(2000, 50);
    expect((await rejoined.holder.status()).serving).to.equal(false);
    expect(h.root.state.tenure.era).to.equal(era);
    expect(rejoined.holder.metrics.campaigns).to.equal(0);
  });
  it('a crashed holder actor is restarted by its supervisor as a standby, campaigns again, and serves nothing twice', async () => {
    const a = await h.add('coord-1', true);
    await h.run(100);
    const b = await h.add('coord-2');
    await h.run(100);
    expect((await h.holders())).to.deep.equal(['coord-1']);
    for (let i = 0; i < 5; i++) expect(await h.serveOnce()).to.equal('coord-1');
    // A lying root: the next renewal is accepted for another era, a broken invariant that crashes the actor.
    const real = h.root.applyTenure.bind(h.root);
    let lied = false;
    h.root.applyTenure = async (cmd: TenureCommand) => {
      const out = await real(cmd);
      if (lied || cmd.op !== 'renew' || !out.accepted || !out.tenure) return out;
      lied = true;
      return { ...out, tenure: { ...out.tenure, era: out.tenure.era + 7 } };
    };
    const before = a.holder.actorRef!;
    const campaigns = a.holder.metrics.campaigns;
    const renewedAt = h.root.state.tenure.expires_unix_ms - timing.renewBeforeMs;
    await h.run(renewedAt - h.clock.now() + 20);
    expect(lied).to.equal(true);
    await a.supervisor!.whenIdle();
    const after = a.holder.actorRef!;
    expect(after, 'restarted').to.not.equal(undefined);
    expect(after.equals(before), 'a new incarnation').to.equal(false);
    expect(a.supervisor!.whichChildren()[0]).to.include({ status: 'running', restarts: 1 });
    // The rooted tenure still names coord-1 era 1, but the new incarnation never serves from it.
    expect(h.root.state.tenure).to.include({ holder_id: 'coord-1', era: 1 });
    expect((await h.holders())).to.deep.equal([]);
    const expires = h.root.state.tenure.expires_unix_ms;
    while (h.clock.now() < expires) {
      expect((await h.holders()), `served at ${h.clock.now()} before the old era expired`).to.deep.equal([]);
      expect(await h.serveOnce()).to.equal(null);
      await h.run(50);
    }
    await h.run(300);
    expect(h.root.state.tenure.era).to.equal(2);
    expect((await h.holders())).to.have.length(1);
    expect(a.holder.metrics.campaigns + b.holder.metrics.campaigns).to.be.greaterThan(campaigns);
    for (let i = 0; i < 5; i++) expect(await h.serveOnce()).to.equal(h.root.state.tenure.holder_id);
    h.checkHistory();
  });
});
