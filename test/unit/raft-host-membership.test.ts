// Membership changes and leader transfer through the raft host, on in-process replicas with real LMDB.
import { expect } from 'chai';
import { ConfChangeType, ProposalDroppedError } from '../../src/raft/index.js';
import { KvStateMachine } from '../support/kv-state-machine.js';
import { LocalCluster } from '../fixtures/raft-local-cluster.js';

const put = (k: string) => KvStateMachine.encode(k, `v-${k}`);

describe('raft host: membership change and leader transfer', function () {
  this.timeout(30_000);
  let c: LocalCluster | undefined;

  afterEach(async () => {
    await c?.close();
    c = undefined;
  });

  it('a new node joins as a learner from a snapshot, is promoted to voter, and a removed node stops counting', async () => {
    c = await LocalCluster.open();
    const leader = await c.elect(1);
    for (const k of ['a', 'b', 'c']) await leader.group.propose(put(k));
    const joiner = await c.addNode(4);
    const added = await leader.group.changeMembership({ type: ConfChangeType.AddLearner, nodeId: 4 });
    expect(added.conf.learners).to.deep.equal([4]);
    await c.until('the learner caught up', () => joiner.sm.data.get('c') === 'v-c');
    expect(joiner.group.status().voters, 'a learner learns the founders from the snapshot').to.deep.equal([1, 2, 3]);

    const promoted = await leader.group.changeMembership({ type: ConfChangeType.AddVoter, nodeId: 4 });
    expect(promoted.conf.voters).to.deep.equal([1, 2, 3, 4]);
    await leader.group.propose(put('d'));
    await c.until('the new voter applied d', () => joiner.sm.data.get('d') === 'v-d');

    const removed = await leader.group.changeMembership({ type: ConfChangeType.RemoveNode, nodeId: 2 });
    expect(removed.conf.voters).to.deep.equal([1, 3, 4]);
    // With 2 gone, {1, 3, 4} is the whole group: cutting 2 off entirely does not stop commits.
    for (const other of [1, 3, 4]) {
      c.cut.add(`2->${other}`);
      c.cut.add(`${other}->2`);
    }
    await leader.group.propose(put('e'));
    await c.until('e applied on the remaining members', () => [1, 3, 4].every((id) => c!.node(id).sm.data.get('e') === 'v-e'));
    expect(c.node(2).sm.data.has('e')).to.equal(false);
  });

  it('a second membership change waits for the first to apply, and an invalid one is refused', async () => {
    c = await LocalCluster.open();
    const leader = await c.elect(1);
    await c.addNode(4);
    const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as Error);
    const first = leader.group.changeMembership({ type: ConfChangeType.AddLearner, nodeId: 4 });
    const second = await refusal(leader.group.changeMembership({ type: ConfChangeType.AddLearner, nodeId: 5 }));
    expect(second, 'one change at a time').to.be.instanceOf(ProposalDroppedError);
    expect((second as ProposalDroppedError).details.reason).to.equal('conf-change-pending');
    await first;
    const invalid = await refusal(leader.group.changeMembership({ type: ConfChangeType.RemoveNode, nodeId: 9 }));
    expect(invalid, 'removing a node that is not a member is refused').to.be.instanceOf(ProposalDroppedError);
    expect(leader.group.status().voters).to.deep.equal([1, 2, 3]);
  });

  it('leader transfer hands leadership to a caught-up voter', async () => {
    c = await LocalCluster.open();
    const leader = await c.elect(1);
    await leader.group.propose(put('x'));
    leader.group.transferLeader(3);
    await c.until('node 3 leads', () => c!.node(3).group.isLeader);
    expect(c.node(1).group.isLeader).to.equal(false);
    const r = await c.node(3).group.propose(put('y'));
    expect(r.term).to.be.greaterThan(0);
    await c.until('y applied everywhere', () => [1, 2, 3].every((id) => c!.node(id).sm.data.get('y') === 'v-y'));
  });
});
