/**
 * The subscriber's topic map: a token trie from subscription patterns to subscribers.
 * `match` visits only the branches a topic can reach (literal token, `*`, `>`), so routing
 * cost depends on the topic's depth, not on how many subscriptions exist. `matchList` keeps
 * the answer per topic until the subscriptions change: a topic's messages then cost one Map
 * lookup instead of a trie walk and a Set of its subscribers each.
 */
interface TrieNode<S> {
  literal: Map<string, TrieNode<S>>;
  star: TrieNode<S> | undefined;
  /** Subscribers whose pattern ends here. */
  here: Set<S>;
  /** Subscribers whose pattern ends with `>` right below this node. */
  rest: Set<S>;
}

function newNode<S>(): TrieNode<S> {
  return { literal: new Map(), star: undefined, here: new Set(), rest: new Set() };
}

function isEmpty<S>(n: TrieNode<S>): boolean {
  return n.literal.size === 0 && n.star === undefined && n.here.size === 0 && n.rest.size === 0;
}

/** Bounds of the matchList cache: topics (keys up to 255 characters), and subscriber references in all. */
export interface TopicCacheLimits {
  maxTopics: number;
  maxRefs: number;
}

/** At most ~3 MB of keys and ~2 MB of references. */
const DEFAULT_CACHE_LIMITS: TopicCacheLimits = { maxTopics: 10_000, maxRefs: 1 << 18 };

export class TopicIndex<S> {
  private readonly root: TrieNode<S> = newNode();
  private patterns = 0;
  /** Topic -> its subscribers, each once; emptied on every change of the index. */
  private readonly cache = new Map<string, readonly S[]>();
  /** Subscriber references held by the cache. */
  private cachedRefs = 0;

  constructor(private readonly cacheLimits: TopicCacheLimits = DEFAULT_CACHE_LIMITS) {}

  /** Number of distinct (pattern, subscriber) pairs. */
  get size(): number {
    return this.patterns;
  }

  /** Adds `sub` under `pattern`; false when it was already there. */
  add(pattern: string, sub: S): boolean {
    const toks = pattern.split('.');
    let node = this.root;
    for (let i = 0; i < toks.length; i++) {
      const tok = toks[i]!;
      if (tok === '>') return this.insert(node.rest, sub);
      if (tok === '*') {
        node.star ??= newNode();
        node = node.star;
      } else {
        let next = node.literal.get(tok);
        if (next === undefined) {
          next = newNode();
          node.literal.set(tok, next);
        }
        node = next;
      }
    }
    return this.insert(node.here, sub);
  }

  private insert(set: Set<S>, sub: S): boolean {
    if (set.has(sub)) return false;
    set.add(sub);
    this.patterns++;
    this.invalidate();
    return true;
  }

  private invalidate(): void {
    if (this.cache.size === 0) return;
    this.cache.clear();
    this.cachedRefs = 0;
  }

  /** Removes `sub` from `pattern`, pruning empty branches; false when it was not there. */
  remove(pattern: string, sub: S): boolean {
    const removed = this.removeAt(this.root, pattern.split('.'), 0, sub);
    if (removed) {
      this.patterns--;
      this.invalidate();
    }
    return removed;
  }

  private removeAt(node: TrieNode<S>, toks: string[], i: number, sub: S): boolean {
    const tok = toks[i];
    if (tok === undefined) return node.here.delete(sub);
    if (tok === '>') return node.rest.delete(sub);
    const child = tok === '*' ? node.star : node.literal.get(tok);
    if (child === undefined) return false;
    const removed = this.removeAt(child, toks, i + 1, sub);
    if (removed && isEmpty(child)) {
      if (tok === '*') node.star = undefined;
      else node.literal.delete(tok);
    }
    return removed;
  }

  /** Adds every subscriber with a pattern matching `topic` to `out` (a Set: each once). */
  match(topic: string, out: Set<S> = new Set()): Set<S> {
    this.matchAt(this.root, topic.split('.'), 0, out);
    return out;
  }

  /**
   * Every subscriber with a pattern matching `topic`, each once, in a list shared with later
   * calls: never modify it. It stays valid as it is after the index changes (a later call
   * answers anew), so callers may keep iterating it while subscribers come and go.
   */
  matchList(topic: string): readonly S[] {
    const hit = this.cache.get(topic);
    if (hit !== undefined) return hit;
    const list = [...this.match(topic)];
    const { maxTopics, maxRefs } = this.cacheLimits;
    // Full: start over rather than track recency; the topics in use come back at once.
    if (this.cache.size >= maxTopics || this.cachedRefs + list.length > maxRefs) this.invalidate();
    if (list.length <= maxRefs && maxTopics > 0) {
      this.cache.set(topic, list);
      this.cachedRefs += list.length;
    }
    return list;
  }

  private matchAt(node: TrieNode<S>, toks: string[], i: number, out: Set<S>): void {
    if (i === toks.length) {
      for (const s of node.here) out.add(s);
      return;
    }
    for (const s of node.rest) out.add(s);
    const lit = node.literal.get(toks[i]!);
    if (lit !== undefined) this.matchAt(lit, toks, i + 1, out);
    if (node.star !== undefined) this.matchAt(node.star, toks, i + 1, out);
  }

  /** True when nothing is subscribed (the root has no branches left). */
  get isEmpty(): boolean {
    return isEmpty(this.root);
  }
}
