// Sample discharge records for the DRG page: one prefilled record and a generated batch drawn
// from a few case types over a few synthetic hospitals (codes valid for the shipped SYNTHETIC
// tables: appendectomy, pneumonia, myocardial infarction with a stent, heart failure, lung
// cancer, hip fracture with a replacement).
export const SAMPLE = {
  id: 'R0001', hospital: 'H50010300001', hospital_level: '三级', sex: 1, age: 34,
  principal_dx: 'K35.800', other_dx: 'J18.900', procedures: '47.0901', los_days: 6, cost: 12800,
}

const TYPES = [
  { dx: 'K35.800', procs: ['47.0901'], cost: 9000 },
  { dx: 'J18.900', procs: [], cost: 6000 },
  { dx: 'I21.000', procs: ['36.0700'], cost: 38000 },
  { dx: 'I50.900', procs: [], cost: 11000 },
  { dx: 'C34.900', procs: [], cost: 16000 },
  { dx: 'S72.000', procs: ['81.5100'], cost: 45000 },
]
const HOSPITALS = [
  ['H50010300001', '三级'], ['H50010600002', '三级'], ['H50010700003', '二级'], ['H50011200004', '二级'],
  ['H50011300005', '一级'],
]

// A deterministic pseudo-random batch (the same n gives the same records).
export function batch(n) {
  let seed = 7
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)
  return Array.from({ length: n }, (_, i) => {
    const type = TYPES[Math.floor(rnd() * TYPES.length)]
    const [hospital, level] = HOSPITALS[Math.floor(rnd() * HOSPITALS.length)]
    return {
      id: `B${String(i + 1).padStart(5, '0')}`, hospital, hospital_level: level,
      sex: rnd() < 0.5 ? 1 : 2, age: 20 + Math.floor(rnd() * 60),
      principal_dx: type.dx, other_dx: rnd() < 0.2 ? ['J18.900'] : [], procedures: type.procs,
      los_days: 3 + Math.floor(rnd() * 10), cost_fen: Math.round(type.cost * (0.6 + rnd()) * 100),
    }
  })
}
