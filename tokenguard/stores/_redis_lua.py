"""The Lua scripts of `RedisStore` (private): each runs atomically on the Redis server.

Times arrive as arguments from the caller's clocks, never from Redis' TIME. A revocation
is stored as ``"<value> <until>"``; numbers are written with 17 significant digits so they
read back as the very same doubles in Python.
"""

from __future__ import annotations

__all__ = ["REVOKE", "ROTATE"]

# Lua shared by both scripts. ARGV[1] is the store's clock.
_COMMON = """
local live = tonumber(ARGV[1])
local function alive(raw)  -- a revocation's value, or nil when absent or past its until
  if not raw then return nil end
  local value, untl = string.match(raw, '^(%S+) (%S+)$')
  if tonumber(untl) <= live then return nil end
  return tonumber(value)
end
local function ttl(untl)  -- milliseconds from now until untl: at least 1, at most a century
  return string.format('%d', math.max(1, math.ceil(math.min(untl - live, 3155760000) * 1000)))
end
-- As MemoryStore: a revocation is never forgotten early; a cut-off only moves forward.
local function revoke(key, value, untl, forward)
  local raw = redis.call('GET', key)
  local old = alive(raw)
  if old then
    if forward then value = math.max(value, old) end
    untl = math.max(untl, tonumber(string.match(raw, ' (%S+)$')))
  end
  redis.call('SET', key, string.format('%.17g %.17g', value, untl), 'PX', ttl(untl))
end
"""

# KEYS: old token, new token. ARGV: live, prefix, now, grace, new data, successor, new TTL.
ROTATE = (
    _COMMON
    + """
local prefix, now, grace = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local fields = redis.call('HGETALL', KEYS[1])
local h = {}
for i = 1, #fields, 2 do h[fields[i]] = fields[i + 1] end
if not h.data then return {'unknown'} end
local rec = cjson.decode(h.data)
if rec.exp <= live then return {'unknown'} end  -- expired: get() would not find it either
local fid = rec.fid ~= cjson.null and rec.fid or nil
local cutoff = alive(redis.call('GET', prefix .. 'sub:' .. rec.sub))
local fam = fid and alive(redis.call('GET', prefix .. 'fam:' .. fid))
-- The rules of decide_rotation (tokenguard/stores/base.py), in its order; keep them in step.
local outcome
if rec.kind ~= 'refresh' then
  outcome = 'unknown'
elseif fam or (cutoff and rec.iat < cutoff) then
  outcome = 'revoked'
elseif not h.retired_at then
  outcome = (now >= rec.exp) and 'expired' or 'rotated'
elseif h.successor and grace > 0 and now - tonumber(h.retired_at) <= grace then
  outcome = 'grace'
else
  outcome = 'reused'  -- a retired token back after the grace window: someone holds a copy
end
if outcome == 'rotated' then
  redis.call('HSET', KEYS[1], 'retired_at', ARGV[3], 'successor', ARGV[6])
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'data', ARGV[5])
  redis.call('PEXPIRE', KEYS[2], ARGV[7])
elseif outcome == 'reused' and fid then
  local untl = rec.fexp  -- family_expires_at or expires_at
  if untl == cjson.null or untl == 0 then untl = rec.exp end
  revoke(prefix .. 'fam:' .. fid, live, untl, false)
end
return {outcome, unpack(fields)}
"""
)

# KEYS: the revocation's key. ARGV: live, value, until, "1" for a subject's cut-off.
REVOKE = _COMMON + "revoke(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1')\n"
