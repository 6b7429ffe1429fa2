import {
  type KyselyPlugin,
  OperationNodeTransformer,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type PrimitiveValueListNode,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
  type ValueNode,
} from 'kysely';

/** A Date as the UTC timestamp it is, without an offset: 2018-11-15 00:00:00.000. */
export function utcTimestamp(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

class UtcDates extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode): ValueNode {
    return node.value instanceof Date ? { ...node, value: utcTimestamp(node.value) } : node;
  }

  protected override transformPrimitiveValueList(node: PrimitiveValueListNode): PrimitiveValueListNode {
    return node.values.some((v) => v instanceof Date) ? { ...node, values: node.values.map((v) => (v instanceof Date ? utcTimestamp(v) : v)) } : node;
  }
}

/**
 * Binds every Date as a UTC timestamp. The warehouse's TIMESTAMP columns hold UTC; pg would send
 * the client's local time with an offset, which a timestamp without time zone (PostgreSQL's cast,
 * and Redshift's TIMESTAMP) drops, so a window meant one instant under TZ=UTC and another under
 * TZ=Asia/Tokyo. (Results are read as UTC by the pool's type parser.)
 */
export class UtcDatesPlugin implements KyselyPlugin {
  readonly #transformer = new UtcDates();

  /** Rewrites Date parameters. */
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#transformer.transformNode(args.node, args.queryId);
  }

  /** Results pass unchanged. */
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
