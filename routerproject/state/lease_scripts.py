"""The Lua scripts of the least-connections leases in Redis (`RedisState.incr_least`,
`release_lease`, `lease_count`); `memory.least_loaded` is the same rule for the memory state."""

# KEYS: the counters; ARGV: start index (0-based), TTL in ms (0: none), then one weight per key.
# Lease counts are hashes {owner: leases}; an owner counts while its `lease-owner:{owner}` key
# lives (ARGV owner prefix + owner). The shares of dead owners are dropped as they are met.
LIVE_LEASES = """
local owner_prefix = ARGV[1]
local alive = {}
local function live_leases(key)
  local fields = redis.call('HGETALL', key)
  local total = 0
  for i = 1, #fields, 2 do
    local owner = fields[i]
    if alive[owner] == nil then
      alive[owner] = redis.call('EXISTS', owner_prefix .. owner) == 1
    end
    if alive[owner] then
      total = total + math.max(tonumber(fields[i + 1]), 0)
    else
      redis.call('HDEL', key, owner)
    end
  end
  return total
end
"""

# ARGV: owner prefix, owner, owner TTL ms, start, key TTL ms, weights...
INCR_LEAST = (
    LIVE_LEASES
    + """
local owner = ARGV[2]
local start = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
redis.call('SET', owner_prefix .. owner, '1', 'PX', ARGV[3])
local count = #KEYS
local chosen, lowest = 1, nil
for offset = 0, count - 1 do
  local index = ((start + offset) % count) + 1
  local ratio = live_leases(KEYS[index]) / tonumber(ARGV[index + 5])
  if lowest == nil or ratio < lowest then
    chosen, lowest = index, ratio
  end
end
redis.call('HINCRBY', KEYS[chosen], owner, 1)
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[chosen], ttl)
end
return chosen - 1
"""
)

# ARGV: owner prefix (unused), owner
RELEASE_LEASE = """
local held = redis.call('HGET', KEYS[1], ARGV[2])
if not held then return 0 end
if tonumber(held) <= 1 then
  redis.call('HDEL', KEYS[1], ARGV[2])
else
  redis.call('HINCRBY', KEYS[1], ARGV[2], -1)
end
return 1
"""

# ARGV: owner prefix
LEASE_COUNT = LIVE_LEASES + "return live_leases(KEYS[1])\n"
