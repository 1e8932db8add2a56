/**
 * The partition assigner of Lightbus's consumer groups.
 *
 * `subscribedRoundRobin`: kafkajs's RoundRobinAssigner hands every member
 *   partitions of every topic any member subscribed to, and a member drops the
 *   ones it did not subscribe to: during a deploy that changes a listener's
 *   events those partitions would go unread. This one, like the Java client's
 *   RoundRobinAssignor, gives a topic's partitions only to members that
 *   subscribed to it.
 */
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

const { MemberMetadata, MemberAssignment } = AssignerProtocol;

export const SUBSCRIBED_ROUND_ROBIN = 'LightbusSubscribedRoundRobin';

export const subscribedRoundRobin: PartitionAssigner = ({ cluster }) => ({
  name: SUBSCRIBED_ROUND_ROBIN,
  version: 0,
  async assign({ members, topics }) {
    const subscriptions = new Map<string, Set<string>>();
    for (const member of members) {
      const metadata = MemberMetadata.decode(member.memberMetadata);
      subscriptions.set(member.memberId, new Set(metadata?.topics ?? topics));
    }
    const memberIds = members.map((m) => m.memberId).sort();
    const assignment = new Map<string, Record<string, number[]>>(memberIds.map((id) => [id, {}]));
    let turn = 0;
    for (const topic of [...topics].sort()) {
      const subscribers = memberIds.filter((id) => subscriptions.get(id)?.has(topic));
      if (subscribers.length === 0) continue;
      const partitions = cluster
        .findTopicPartitionMetadata(topic)
        .map((p) => p.partitionId)
        .sort((a, b) => a - b);
      for (const partition of partitions) {
        const member = subscribers[turn++ % subscribers.length]!;
        const byTopic = assignment.get(member)!;
        (byTopic[topic] ??= []).push(partition);
      }
    }
    return memberIds.map((memberId) => ({
      memberId,
      memberAssignment: MemberAssignment.encode({
        version: 0,
        assignment: assignment.get(memberId)!,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: SUBSCRIBED_ROUND_ROBIN,
      metadata: MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    };
  },
});
