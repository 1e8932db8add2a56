import { AssignerProtocol, type Cluster } from 'kafkajs';
import { subscribedRoundRobin } from './assigners';

const { MemberMetadata, MemberAssignment } = AssignerProtocol;

function fakeCluster(partitions: Record<string, number>): Cluster {
  return {
    findTopicPartitionMetadata: (topic: string) =>
      Array.from({ length: partitions[topic] ?? 0 }, (_, partitionId) => ({
        partitionId,
        leader: 1,
        partitionErrorCode: 0,
        replicas: [1],
        isr: [1],
      })),
  } as unknown as Cluster;
}

function member(memberId: string, topics: string[]) {
  return { memberId, memberMetadata: MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
}

function decode(
  result: Array<{ memberId: string; memberAssignment: Buffer }>,
): Record<string, Record<string, number[]>> {
  return Object.fromEntries(result.map((r) => [r.memberId, MemberAssignment.decode(r.memberAssignment)!.assignment]));
}

describe('partition assigners', () => {
  it('gives a topic only to members that subscribed to it, round robin', async () => {
    const assigner = subscribedRoundRobin({
      cluster: fakeCluster({ a: 4, b: 2 }),
      groupId: 'g',
      logger: undefined as never,
    });
    const result = await assigner.assign({
      members: [member('m1', ['a', 'b']), member('m2', ['a'])],
      topics: ['a', 'b'],
    });
    const byMember = decode(result);
    expect(byMember.m2!.b).toBeUndefined();
    expect(byMember.m1!.b).toEqual([0, 1]);
    expect([...(byMember.m1!.a ?? []), ...(byMember.m2!.a ?? [])].sort()).toEqual([0, 1, 2, 3]);
    expect(byMember.m2!.a!.length).toBeGreaterThanOrEqual(1);
  });
});
