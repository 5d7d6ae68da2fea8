/**
 * CPython's `math.log` and `math.exp` as the goldens' machine computed them: Debian 12's glibc 2.36
 * on x86-64, whose FMA variants (picked at run time on any CPU with FMA) run the Arm
 * optimized-routines algorithms (128-entry tables) with every `a*b + c` contracted to one fused
 * multiply-add. Those results are not always correctly rounded (roughly 1 argument in 1000 is an
 * ulp off), and V8's `Math.log`/`Math.exp` differ from them far more often, so the two algorithms are
 * ported bit for bit here, with an exact software `fma`. Used by nltk's BLEU in the SAMSum scorer,
 * whose total reaches the script's result file.
 */

const VIEW = new DataView(new ArrayBuffer(8));
const MASK64 = (1n << 64n) - 1n;

function asUint64(x: number): bigint {
  VIEW.setFloat64(0, x);
  return VIEW.getBigUint64(0);
}

function asDouble(bits: bigint): number {
  VIEW.setBigUint64(0, bits & MASK64);
  return VIEW.getFloat64(0);
}

/** x = mant · 2^exp exactly (finite x; mant signed, 0 for ±0). */
function decompose(x: number): { mant: bigint; exp: number } {
  const bits = asUint64(x);
  const neg = bits >> 63n === 1n;
  const bexp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp = -1074;
  if (bexp !== 0) {
    mant |= 1n << 52n;
    exp = bexp - 1075;
  }
  return { mant: neg ? -mant : mant, exp };
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** m · 2^e for an integer m exactly representable as a double, when the result is representable. */
function ldexpExact(m: number, e: number): number {
  let x = m;
  let k = e;
  while (k > 1000) {
    x *= 2 ** 1000;
    k -= 1000;
  }
  while (k < -1000) {
    x *= 2 ** -1000;
    k += 1000;
  }
  return x * 2 ** k;
}

/** The double nearest to n · 2^e (ties to even), subnormals and overflow included. */
export function bigScaledToDouble(n: bigint, e: number): number {
  if (n === 0n) return 0;
  if (n < 0n) return -bigScaledToDouble(-n, e);
  const bits = bitLength(n);
  const lead = bits - 1 + e;
  if (lead > 1023) return Infinity;
  const keep = lead < -1022 ? 53 - (-1022 - lead) : 53;
  if (keep < 0) return 0;
  const drop = bits - keep;
  if (drop <= 0) return ldexpExact(Number(n), e);
  let m = n >> BigInt(drop);
  const rem = n - (m << BigInt(drop));
  const half = 1n << BigInt(drop - 1);
  if (rem > half || (rem === half && (m & 1n) === 1n)) m += 1n;
  if (bitLength(m) - 1 + e + drop > 1023) return Infinity;
  return ldexpExact(Number(m), e + drop);
}

/** fma(a, b, c) = a·b + c with a single rounding (finite arguments). */
export function fma(a: number, b: number, c: number): number {
  const A = decompose(a);
  const B = decompose(b);
  const C = decompose(c);
  const pe = A.exp + B.exp;
  const e = Math.min(pe, C.exp);
  const sum = ((A.mant * B.mant) << BigInt(pe - e)) + (C.mant << BigInt(C.exp - e));
  if (sum === 0n) return a * b + c; // an exact zero: let IEEE arithmetic pick its sign
  return bigScaledToDouble(sum, e);
}

// N = 128 entries of glibc/optimized-routines __log_data.tab: [invc, logc] pairs
const LOG_TAB: readonly number[] = [
  1.4504249240398293, -0.3718565645633589, 1.442253508327276, -0.36620682668944937, 1.4341736174350004, -0.3605888069791945,
  1.426183816329995, -0.3550022171419869, 1.4182825527052965, -0.34944666968829097, 1.4104682921759335, -0.3439217713603284,
  1.4027396147468003, -0.3384271921261188, 1.3950954438932313, -0.332962831494342, 1.3875338232485754, -0.32752794345742586,
  1.3800539211058593, -0.32212257167088865, 1.3726542695419708, -0.3167462884799761, 1.3653332798446802, -0.3113985598928366,
  1.358090204587874, -0.3060794515165526, 1.3509234892132138, -0.300788424667644, 1.3438320840699889, -0.2955252968476998,
  1.3368146974742003, -0.29028969275850613, 1.329870114677736, -0.2850812793277555, 1.322997339161106, -0.27989987391470095,
  1.316195352741367, -0.27474526621870154, 1.3094628125672239, -0.2696169863701243, 1.3027990455471041, -0.26451506180308115,
  1.2962024229438942, -0.2594387762767383, 1.2896726275815547, -0.2543884090981692, 1.2832080305745537, -0.24936321635129843,
  1.276807885983376, -0.24436312405975968, 1.2704714060687552, -0.23938801747897287, 1.2641976054949482, -0.23443761696705678,
  1.257985357514882, -0.22951151871518505, 1.2518337750655457, -0.2246094963439873, 1.2457421919097305, -0.21973149037705753,
  1.2397094966625508, -0.2148770752847895, 1.2337348463589233, -0.210046029103637, 1.2278176973028803, -0.20523836373934046,
  1.2219570190618474, -0.20045368751368642, 1.2161519732977757, -0.1956917537758045, 1.2104018095009725, -0.19095237845203883,
  1.204705805718973, -0.18623539250290833, 1.1990631185441964, -0.18154051731551135, 1.1934733004462308, -0.1768677957431919,
  1.1879350812847385, -0.17221657406412305, 1.1824481322833125, -0.16758697765942543, 1.1770114976921955, -0.16297859687290384,
  1.1716248121809465, -0.15839151377804228, 1.1662869231674715, -0.15382513241456763, 1.1609977486762766, -0.14927976358922024,
  1.1557563220795803, -0.14475495398119165, 1.1505619105480347, -0.14025044090817573, 1.1454138888505974, -0.1357660466685502,
  1.140311877374656, -0.1313018016355727, 1.1352550225747513, -0.12685731518763532, 1.1302429094831266, -0.1224325737671279,
  1.1252747693068048, -0.11802724521862729, 1.1203501571039876, -0.11364127671663482, 1.1154683327680124, -0.10927434611278386,
  1.1106291463292157, -0.10492665324943573, 1.1058315813301596, -0.10059761422644442, 1.1010752177696026, -0.09628717309055901,
  1.0963597137952512, -0.09199534069557558, 1.0916844827550398, -0.08772190036688698, 1.0870487291277784, -0.08346643613867855,
  1.082452357388312, -0.07922916827544668, 1.0778948225025884, -0.0750099004750382, 1.0733751731601076, -0.07080805133352897,
  1.068893585073351, -0.06662408085151128, 1.0644491706655506, -0.06245745471915143, 1.0600414846328305, -0.0583080438042316,
  1.0556701316181605, -0.05417576112313327, 1.051334750556926, -0.050060547896805474, 1.0470347288442157, -0.045962101199052086,
  1.0427699229652954, -0.04188056008865715, 1.0385395013738175, -0.03781540056183985, 1.034343418940345, -0.03376684757915882,
  1.0301811073173315, -0.029734619131772888, 1.026052043621297, -0.025718470239212365, 1.0219561082336197, -0.021718543925430822,
  1.0178926505784922, -0.01773446126981071, 1.0138614436244586, -0.013766252464051831, 1.0098620186501341, -0.009813706322574944,
  1.0058938559734134, -0.005876555150052809, 1.00195696235014, -0.0019550499938532084, 0.9961089923088509, 0.0038985973556009412,
  0.9884170338185201, 0.011650571286395461, 0.9808429191005297, 0.019342955478919066, 0.9733840169987446, 0.0269766014846482,
  0.9660377568876556, 0.034552359728422744, 0.9588014945307369, 0.04207121767183253, 0.9516728569073111, 0.049533940950141186,
  0.9446494635965822, 0.056941358295944156, 0.9377288993026223, 0.06429439168346107, 0.9309091073790681, 0.0715936354946507,
  0.924187681612722, 0.07884010933776153, 0.9175626765599192, 0.08603438905970506, 0.9110320403624034, 0.09317721180013905,
  0.9045935839762024, 0.10026951462748457, 0.8982456375922825, 0.10731170956330516, 0.8919860966782501, 0.11430473320717738,
  0.8858131121185129, 0.12124928503033061, 0.879725075760676, 0.12814583422959913, 0.8737201372634685, 0.1349951636851756,
  0.8677966405782273, 0.1417978768189414, 0.8619528050060739, 0.14855476039031146, 0.8561872354420692, 0.1552661937658968,
  0.8504983927816893, 0.16193275688146969, 0.8448844572790304, 0.16855539792220497, 0.8393442741575965, 0.1751343179947753,
  0.8338762249349438, 0.1816702989864325, 0.8284789320557778, 0.18816387146023317, 0.8231510800065832, 0.1946155228479256,
  0.8178913903778707, 0.20102572579389744, 0.8126984007245374, 0.2073952090795501, 0.8075710029460227, 0.21372429840596396,
  0.8025078881160415, 0.2200135945981856, 0.7975077379364331, 0.22626374162859975, 0.792569604966373, 0.23247494747693054,
  0.7876923641254114, 0.23864766620658884, 0.7828746724940998, 0.24478265647405806, 0.7781155388790811, 0.25088025827324145,
  0.7734139557869777, 0.2569408552510595, 0.7687687179914933, 0.26296511155101143, 0.7641790698041854, 0.2689531327189343,
  0.7596438763692399, 0.27490553924610595, 0.7551621951078668, 0.2808227248478943, 0.7507331780216866, 0.286704979267256,
  0.7463557196361751, 0.29255295645509705, 0.7420289364869653, 0.2983670386142876, 0.7377521537065876, 0.30414734587282055,
  0.7335242966002608, 0.30989455774829366, 0.729344777457841, 0.31560871301871884,
];
// N = 128 entries of __exp_data.tab: [tail bits, scale bits] pairs (uint64)
const EXP_TAB: readonly bigint[] = [
  0x0n,
  0x3ff0000000000000n,
  0x3c9b3b4f1a88bf6en,
  0x3feff63da9fb3335n,
  0xbc7160139cd8dc5dn,
  0x3fefec9a3e778061n,
  0xbc905e7a108766d1n,
  0x3fefe315e86e7f85n,
  0x3c8cd2523567f613n,
  0x3fefd9b0d3158574n,
  0xbc8bce8023f98efan,
  0x3fefd06b29ddf6den,
  0x3c60f74e61e6c861n,
  0x3fefc74518759bc8n,
  0x3c90a3e45b33d399n,
  0x3fefbe3ecac6f383n,
  0x3c979aa65d837b6dn,
  0x3fefb5586cf9890fn,
  0x3c8eb51a92fdeffcn,
  0x3fefac922b7247f7n,
  0x3c3ebe3d702f9cd1n,
  0x3fefa3ec32d3d1a2n,
  0xbc6a033489906e0bn,
  0x3fef9b66affed31bn,
  0xbc9556522a2fbd0en,
  0x3fef9301d0125b51n,
  0xbc5080ef8c4eea55n,
  0x3fef8abdc06c31ccn,
  0xbc91c923b9d5f416n,
  0x3fef829aaea92de0n,
  0x3c80d3e3e95c55afn,
  0x3fef7a98c8a58e51n,
  0xbc801b15eaa59348n,
  0x3fef72b83c7d517bn,
  0xbc8f1ff055de323dn,
  0x3fef6af9388c8dean,
  0x3c8b898c3f1353bfn,
  0x3fef635beb6fcb75n,
  0xbc96d99c7611eb26n,
  0x3fef5be084045cd4n,
  0x3c9aecf73e3a2f60n,
  0x3fef54873168b9aan,
  0xbc8fe782cb86389dn,
  0x3fef4d5022fcd91dn,
  0x3c8a6f4144a6c38dn,
  0x3fef463b88628cd6n,
  0x3c807a05b0e4047dn,
  0x3fef3f49917ddc96n,
  0x3c968efde3a8a894n,
  0x3fef387a6e756238n,
  0x3c875e18f274487dn,
  0x3fef31ce4fb2a63fn,
  0x3c80472b981fe7f2n,
  0x3fef2b4565e27cddn,
  0xbc96b87b3f71085en,
  0x3fef24dfe1f56381n,
  0x3c82f7e16d09ab31n,
  0x3fef1e9df51fdee1n,
  0xbc3d219b1a6fbffan,
  0x3fef187fd0dad990n,
  0x3c8b3782720c0ab4n,
  0x3fef1285a6e4030bn,
  0x3c6e149289cecb8fn,
  0x3fef0cafa93e2f56n,
  0x3c834d754db0abb6n,
  0x3fef06fe0a31b715n,
  0x3c864201e2ac744cn,
  0x3fef0170fc4cd831n,
  0x3c8fdd395dd3f84an,
  0x3feefc08b26416ffn,
  0xbc86a3803b8e5b04n,
  0x3feef6c55f929ff1n,
  0xbc924aedcc4b5068n,
  0x3feef1a7373aa9cbn,
  0xbc9907f81b512d8en,
  0x3feeecae6d05d866n,
  0xbc71d1e83e9436d2n,
  0x3feee7db34e59ff7n,
  0xbc991919b3ce1b15n,
  0x3feee32dc313a8e5n,
  0x3c859f48a72a4c6dn,
  0x3feedea64c123422n,
  0xbc9312607a28698an,
  0x3feeda4504ac801cn,
  0xbc58a78f4817895bn,
  0x3feed60a21f72e2an,
  0xbc7c2c9b67499a1bn,
  0x3feed1f5d950a897n,
  0x3c4363ed60c2ac11n,
  0x3feece086061892dn,
  0x3c9666093b0664efn,
  0x3feeca41ed1d0057n,
  0x3c6ecce1daa10379n,
  0x3feec6a2b5c13cd0n,
  0x3c93ff8e3f0f1230n,
  0x3feec32af0d7d3den,
  0x3c7690cebb7aafb0n,
  0x3feebfdad5362a27n,
  0x3c931dbdeb54e077n,
  0x3feebcb299fddd0dn,
  0xbc8f94340071a38en,
  0x3feeb9b2769d2ca7n,
  0xbc87deccdc93a349n,
  0x3feeb6daa2cf6642n,
  0xbc78dec6bd0f385fn,
  0x3feeb42b569d4f82n,
  0xbc861246ec7b5cf6n,
  0x3feeb1a4ca5d920fn,
  0x3c93350518fdd78en,
  0x3feeaf4736b527dan,
  0x3c7b98b72f8a9b05n,
  0x3feead12d497c7fdn,
  0x3c9063e1e21c5409n,
  0x3feeab07dd485429n,
  0x3c34c7855019c6ean,
  0x3feea9268a5946b7n,
  0x3c9432e62b64c035n,
  0x3feea76f15ad2148n,
  0xbc8ce44a6199769fn,
  0x3feea5e1b976dc09n,
  0xbc8c33c53bef4da8n,
  0x3feea47eb03a5585n,
  0xbc845378892be9aen,
  0x3feea34634ccc320n,
  0xbc93cedd78565858n,
  0x3feea23882552225n,
  0x3c5710aa807e1964n,
  0x3feea155d44ca973n,
  0xbc93b3efbf5e2228n,
  0x3feea09e667f3bcdn,
  0xbc6a12ad8734b982n,
  0x3feea012750bdabfn,
  0xbc6367efb86da9een,
  0x3fee9fb23c651a2fn,
  0xbc80dc3d54e08851n,
  0x3fee9f7df9519484n,
  0xbc781f647e5a3ecfn,
  0x3fee9f75e8ec5f74n,
  0xbc86ee4ac08b7db0n,
  0x3fee9f9a48a58174n,
  0xbc8619321e55e68an,
  0x3fee9feb564267c9n,
  0x3c909ccb5e09d4d3n,
  0x3feea0694fde5d3fn,
  0xbc7b32dcb94da51dn,
  0x3feea11473eb0187n,
  0x3c94ecfd5467c06bn,
  0x3feea1ed0130c132n,
  0x3c65ebe1abd66c55n,
  0x3feea2f336cf4e62n,
  0xbc88a1c52fb3cf42n,
  0x3feea427543e1a12n,
  0xbc9369b6f13b3734n,
  0x3feea589994cce13n,
  0xbc805e843a19ff1en,
  0x3feea71a4623c7adn,
  0xbc94d450d872576en,
  0x3feea8d99b4492edn,
  0x3c90ad675b0e8a00n,
  0x3feeaac7d98a6699n,
  0x3c8db72fc1f0eab4n,
  0x3feeace5422aa0dbn,
  0xbc65b6609cc5e7ffn,
  0x3feeaf3216b5448cn,
  0x3c7bf68359f35f44n,
  0x3feeb1ae99157736n,
  0xbc93091fa71e3d83n,
  0x3feeb45b0b91ffc6n,
  0xbc5da9b88b6c1e29n,
  0x3feeb737b0cdc5e5n,
  0xbc6c23f97c90b959n,
  0x3feeba44cbc8520fn,
  0xbc92434322f4f9aan,
  0x3feebd829fde4e50n,
  0xbc85ca6cd7668e4bn,
  0x3feec0f170ca07ban,
  0x3c71affc2b91ce27n,
  0x3feec49182a3f090n,
  0x3c6dd235e10a73bbn,
  0x3feec86319e32323n,
  0xbc87c50422622263n,
  0x3feecc667b5de565n,
  0x3c8b1c86e3e231d5n,
  0x3feed09bec4a2d33n,
  0xbc91bbd1d3bcbb15n,
  0x3feed503b23e255dn,
  0x3c90cc319cee31d2n,
  0x3feed99e1330b358n,
  0x3c8469846e735ab3n,
  0x3feede6b5579fdbfn,
  0xbc82dfcd978e9db4n,
  0x3feee36bbfd3f37an,
  0x3c8c1a7792cb3387n,
  0x3feee89f995ad3adn,
  0xbc907b8f4ad1d9fan,
  0x3feeee07298db666n,
  0xbc55c3d956dcaeban,
  0x3feef3a2b84f15fbn,
  0xbc90a40e3da6f640n,
  0x3feef9728de5593an,
  0xbc68d6f438ad9334n,
  0x3feeff76f2fb5e47n,
  0xbc91eee26b588a35n,
  0x3fef05b030a1064an,
  0x3c74ffd70a5fddcdn,
  0x3fef0c1e904bc1d2n,
  0xbc91bdfbfa9298acn,
  0x3fef12c25bd71e09n,
  0x3c736eae30af0cb3n,
  0x3fef199bdd85529cn,
  0x3c8ee3325c9ffd94n,
  0x3fef20ab5fffd07an,
  0x3c84e08fd10959acn,
  0x3fef27f12e57d14bn,
  0x3c63cdaf384e1a67n,
  0x3fef2f6d9406e7b5n,
  0x3c676b2c6c921968n,
  0x3fef3720dcef9069n,
  0xbc808a1883ccb5d2n,
  0x3fef3f0b555dc3fan,
  0xbc8fad5d3ffffa6fn,
  0x3fef472d4a07897cn,
  0xbc900dae3875a949n,
  0x3fef4f87080d89f2n,
  0x3c74a385a63d07a7n,
  0x3fef5818dcfba487n,
  0xbc82919e2040220fn,
  0x3fef60e316c98398n,
  0x3c8e5a50d5c192acn,
  0x3fef69e603db3285n,
  0x3c843a59ac016b4bn,
  0x3fef7321f301b460n,
  0xbc82d52107b43e1fn,
  0x3fef7c97337b9b5fn,
  0xbc892ab93b470dc9n,
  0x3fef864614f5a129n,
  0x3c74b604603a88d3n,
  0x3fef902ee78b3ff6n,
  0x3c83c5ec519d7271n,
  0x3fef9a51fbc74c83n,
  0xbc8ff7128fd391f0n,
  0x3fefa4afa2a490dan,
  0xbc8dae98e223747dn,
  0x3fefaf482d8e67f1n,
  0x3c8ec3bc41aa2008n,
  0x3fefba1bee615a27n,
  0x3c842b94c3a9eb32n,
  0x3fefc52b376bba97n,
  0x3c8a64a931d185een,
  0x3fefd0765b6e4540n,
  0xbc8e37bae43be3edn,
  0x3fefdbfdad9cbe14n,
  0x3c77893b4d91cd9dn,
  0x3fefe7c1819e90d8n,
  0x3c5305c14160cc89n,
  0x3feff3c22b8f71f1n,
];

// __log_data: ln2 split, poly (LOG_POLY_ORDER 6), poly1 (LOG_POLY1_ORDER 12)
const LN2HI = 0.6931471805598903; // 0x1.62e42fefa3800p-1
const LN2LO = 5.497923018708371e-14; // 0x1.ef35793c76730p-45
const LOG_A: readonly number[] = [
  -0.5000000000000001, 0.33333333331825593, -0.2499999999622955, 0.20000304511814496, -0.16667054827627667,
];
const LOG_B: readonly number[] = [
  -0.5, 0.3333333333333352, -0.24999999999998432, 0.19999999999320328, -0.16666666669929706, 0.14285715076560868,
  -0.12499997863982555, 0.11110712032936046, -0.10000486757818193, 0.09181994006195467, -0.08328363062289341,
];
const LOG_OFF = 0x3fe6000000000000n;
const LOG_LO = asUint64(1.0 - 2 ** -4);
const LOG_HI = asUint64(1.0 + 0x109 / 2 ** 12);

/** glibc 2.36 `log` (FMA build). */
export function glibcLog(x: number): number {
  let ix = asUint64(x);
  const top = Number(ix >> 48n);
  if (((ix - LOG_LO) & MASK64) < LOG_HI - LOG_LO) {
    // close to 1: log1p polynomial with an exact split of r²/2
    if (x === 1) return 0;
    const B = LOG_B;
    const r = x - 1.0;
    const r2 = r * r;
    const r3 = r * r2;
    const i3 = fma(r3, B[10]!, fma(r2, B[9]!, fma(r, B[8]!, B[7]!)));
    const i2 = fma(r3, i3, fma(r2, B[6]!, fma(r, B[5]!, B[4]!)));
    const i1 = fma(r3, i2, fma(r2, B[3]!, fma(r, B[2]!, B[1]!)));
    let w = r * 2 ** 27;
    const rhi = r + w - w;
    const rlo = r - rhi;
    w = rhi * rhi * B[0]!; // exact
    const hi = r + w;
    let lo = r - hi + w;
    lo = fma(B[0]! * rlo, rhi + r, lo);
    const y = fma(r3, i1, lo);
    return y + hi;
  }
  if (top - 0x0010 >= 0x7ff0 - 0x0010 || top < 0x0010) {
    if (x === 0) return -Infinity;
    if (x === Infinity) return x;
    if (top & 0x8000 || (top & 0x7ff0) === 0x7ff0) return NaN;
    ix = asUint64(x * 2 ** 52); // subnormal: normalise
    ix -= 52n << 52n;
  }
  const tmp = (ix - LOG_OFF) & MASK64;
  const i = Number((tmp >> 45n) % 128n);
  const k = Number(BigInt.asIntN(64, tmp) >> 52n);
  const iz = ix - (tmp & (0xfffn << 52n));
  const invc = LOG_TAB[2 * i]!;
  const logc = LOG_TAB[2 * i + 1]!;
  const z = asDouble(iz);
  const r = fma(z, invc, -1.0);
  const w = fma(k, LN2HI, logc);
  const hi = w + r;
  const lo = fma(k, LN2LO, w - hi + r);
  const r2 = r * r;
  const A = LOG_A;
  const q = fma(r2, fma(r, A[4]!, A[3]!), fma(r, A[2]!, A[1]!));
  const s1 = fma(r2, A[0]!, lo);
  const s2 = fma(r * r2, q, s1);
  return s2 + hi;
}

// __exp_data (N = 128, EXP_POLY_ORDER 5, TOINT_INTRINSICS 0)
const INVLN2N = 184.6649652337873;
const NEGLN2HIN = -0.005415212348111709;
const NEGLN2LON = -1.2864023111638346e-14;
const SHIFT = 2 ** 52 * 1.5; // 0x1.8p52
const EXP_C: readonly number[] = [0.49999999999996786, 0.16666666666665886, 0.0416666808410674, 0.008333335853059549];

function top12(x: number): number {
  return Number(asUint64(x) >> 52n);
}

function expSpecialCase(tmp: number, sbits: bigint, ki: bigint): number {
  if ((ki & 0x80000000n) === 0n) {
    // k > 0: the exponent of scale may have overflowed
    const scale = asDouble(sbits - (1009n << 52n));
    return 2 ** 1009 * fma(scale, tmp, scale);
  }
  // k < 0: round once before scaling into the subnormal range
  // (GCC fuses a product only with additions in its own basic block: scale*tmp has a use inside
  // the `if`, so it is rounded on its own here)
  const scale = asDouble(sbits + (1022n << 52n));
  const st = scale * tmp;
  let y = scale + st;
  if (y < 1.0) {
    let lo = scale - y + st;
    const hi = 1.0 + y;
    lo = 1.0 - hi + y + lo;
    y = hi + lo - 1.0;
    if (y === 0) y = 0;
  }
  return 2 ** -1022 * y;
}

/** glibc 2.36 `exp` (FMA build). */
export function glibcExp(x: number): number {
  if (Number.isNaN(x)) return NaN;
  let abstop = top12(x) & 0x7ff;
  const tiny = top12(2 ** -54);
  if (abstop < tiny) return 1.0 + x;
  if (abstop >= top12(512)) {
    if (abstop >= top12(1024)) {
      if (x === -Infinity) return 0;
      if (x === Infinity) return Infinity;
      return x < 0 ? 0 : Infinity;
    }
    abstop = 0; // large |x|: special-cased below
  }
  let kd = fma(INVLN2N, x, SHIFT);
  const ki = asUint64(kd);
  kd -= SHIFT;
  const r = fma(kd, NEGLN2LON, fma(kd, NEGLN2HIN, x));
  const idx = Number(2n * (ki % 128n));
  const top = (ki << 45n) & MASK64;
  const tail = asDouble(EXP_TAB[idx]!);
  const sbits = (EXP_TAB[idx + 1]! + top) & MASK64;
  const r2 = r * r;
  const [C2, C3, C4, C5] = EXP_C as [number, number, number, number];
  const s2 = fma(r2, fma(r, C3, C2), tail + r);
  const tmp = fma(r2 * r2, fma(r, C5, C4), s2);
  if (abstop === 0) return expSpecialCase(tmp, sbits, ki);
  const scale = asDouble(sbits);
  return fma(scale, tmp, scale);
}
