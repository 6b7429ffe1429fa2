import { type LimitNode, type OffsetNode, type OperationNode, PostgresQueryCompiler, ValueNode } from 'kysely';

/**
 * PostgreSQL's SQL compiler with LIMIT and OFFSET counts written as literals: Redshift drivers have
 * known failures with typed LIMIT parameters, and a count is never user text (it is checked to be a
 * whole number here before it is written).
 */
export class RedshiftQueryCompiler extends PostgresQueryCompiler {
  protected override visitLimit(node: LimitNode): void {
    this.append('limit ');
    this.#count(node.limit);
  }

  protected override visitOffset(node: OffsetNode): void {
    this.append('offset ');
    this.#count(node.offset);
  }

  #count(node: OperationNode): void {
    if (ValueNode.is(node)) {
      const n = Number(node.value);
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`LIMIT/OFFSET must be a whole number ≥ 0, not ${String(node.value)}`);
      this.append(String(n));
    } else {
      this.visitNode(node);
    }
  }
}
