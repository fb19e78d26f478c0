// The lease holder driver against an in-process root on virtual time: campaign, standby rejection, release on
// stop with takeover by a standby without traffic, takeover after a crashed holder's expiry, fail-stop when the
// root is unreachable, and a planned handover through Seal -> Issue -> Confirm -> Close. Allocated values never
// repeat and timestamps strictly increase across every era change.
import { expect } from 'chai';
import { ManualClock } from '../../src/common/clock.js';
import { SeededPrng } from '../../src/common/prng.js';
import { silentLogger } from '../../src/common/log.js';
import { LeaseHolder } from '../../src/coordinator/holder.js';
import { leaseTiming } from '../../src/coordinator/lease.js';
import { RootView } from '../../src/coordinator/root-view.js';
import { isNotHolder } from '../../src/coordinator/errors.js';
import { FakeRoot } from '../fixtures/coordinator-fake-root.js';

const timing = leaseTiming(3000, 1000);
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

interface Node {
  id: string;
  view: RootView;
  holder: LeaseHolder;
}

class Harness {
  readonly clock = new ManualClock(1_700_000_000_000);
  readonly root = new FakeRoot(this.clock);
  readonly nodes = new Map<string, Node>();
  readonly ids: bigint[] = [];
  readonly tsos: bigint[] = [];

  async add(id: string): Promise<Node> {
    const view = new RootView(this.root, this.clock, silentLogger());
    const holder = new LeaseHolder({
      selfId: id,
      timing,
      root: this.root,
      view,
      clock: this.clock,
      prng: new SeededPrng(id.length),
      logger: silentLogger(),
      takeOverPeer: (to, era) => this.nodes.get(to)!.holder.takeOver(era),
    });
    await view.start();
    holder.start();
    const n = { id, view, holder };
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

  holders(): string[] {
    return [...this.nodes.values()].filter((n) => n.holder.core.serving(this.clock.now())).map((n) => n.id);
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
      const stopping = n.holder.stop();
      await flush();
      await stopping;
      const v = n.view.stop();
      this.clock.advance(2000);
      await v;
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
    expect(h.holders()).to.have.length(1);
    const holder = h.holders()[0]!;
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
    expect(h.holders()).to.have.length(1);
  });

  it('a graceful stop releases, and a standby takes over with a greater era without any traffic', async () => {
    const a = await h.add('coord-1');
    await h.run(100);
    await h.add('coord-2');
    await h.run(100);
    expect(h.holders()).to.deep.equal(['coord-1']);
    for (let i = 0; i < 5; i++) expect(await h.serveOnce()).to.equal('coord-1');
    const stopping = a.holder.stop();
    await flush();
    await stopping;
    const t0 = h.clock.now();
    await h.run(200);
    expect(h.holders()).to.deep.equal(['coord-2']);
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
    // Crash: the holder's loop and view stop without releasing.
    (a.holder as unknown as { running: boolean }).running = false;
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
    expect(h.holders()).to.deep.equal(['coord-1']);
    h.root.down = true;
    const expires = h.root.state.tenure.expires_unix_ms;
    await h.run(expires - timing.skewMarginMs - h.clock.now() - 10);
    expect(a.holder.core.serving(h.clock.now())).to.equal(true);
    await h.run(20);
    expect(a.holder.core.serving(h.clock.now())).to.equal(false);
    await h.run(expires - h.clock.now() + 10);
    expect(a.holder.core.serving(h.clock.now())).to.equal(false);
    // Back after expiry: the renewal can no longer succeed, so the next era starts (era 2).
    h.root.down = false;
    await h.run(timing.ttlMs);
    expect(h.root.state.tenure.era).to.equal(2);
    expect(a.holder.core.serving(h.clock.now())).to.equal(true);
  });

  it('planned handover seals, the target issues the next era with the legacy digest, confirms and closes', async () => {
    await h.add('coord-1');
    await h.run(100);
    const b = await h.add('coord-2');
    await h.run(100);
    for (let i = 0; i < 3; i++) await h.serveOnce();
    const holder = h.nodes.get(h.holders()[0]!)!;
    const target = holder.id === 'coord-1' ? 'coord-2' : 'coord-1';
    const done = holder.holder.handover(target);
    await h.run(100);
    const res = await done;
    expect(res).to.deep.equal({ legacyEra: 1, successorEra: 2, stage: 'closed' });
    expect(h.root.state.handover).to.include({ holder_id: target, legacy_era: 1, successor_era: 2, stage: 'closed' });
    expect(h.holders()).to.deep.equal([target]);
    for (let i = 0; i < 3; i++) expect(await h.serveOnce()).to.equal(target);
    h.checkHistory();
    expect(b.holder.metrics.campaigns_won + h.nodes.get('coord-1')!.holder.metrics.campaigns_won).to.equal(2);
  });

  it('a restarted coordinator stays a standby while the tenure is live (quiet rejoin)', async () => {
    await h.add('coord-1');
    await h.run(100);
    await h.add('coord-2');
    await h.run(5000, 50);
    const era = h.root.state.tenure.era;
    const rejoined = await h.add('coord-3');
    await h.run(2000, 50);
    expect(rejoined.holder.core.serving(h.clock.now())).to.equal(false);
    expect(h.root.state.tenure.era).to.equal(era);
    expect(rejoined.holder.metrics.campaigns).to.equal(0);
  });
});
