// What the emitted PTX looks like: a small fused map kernel in full, and properties of every module.
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';

describe('PTX text', () => {
  it('fuses y = x·w + 1 (bf16 w broadcast over the batch) into one map kernel', () => {
    const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', 4]);
    const w = Node.make('param', [], { name: 'w' }, 'bf16', [4]);
    const wb = Node.make('broadcast', [Node.make('cast', [w], null, 'f32')], { shape: ['B', 4] });
    const one = Node.make('const', [], { value: 1 }, 'f32', ['B', 4]);
    const y = Node.make('add', [Node.make('mul', [x, wb]), one]);
    const plan = compileProgram(makeGraph('axpb', [x], [{ name: 'y', node: y }]), { maxDims: { B: 64 } });
    expect(plan.kernels.map((k) => k.name)).toEqual(['axpb_map0']);
    expect(plan.launches).toEqual([{
      kernel: 'axpb_map0',
      args: [{ dim: 'B' }, { buffer: 'input:x' }, { buffer: 'param:w' }, { buffer: 'output:y' }],
      grid: [{ ceilDiv: [['B', 4], 256] }, 1, 1],
    }]);
    expect(plan.modules.axpb_map0).toMatchInlineSnapshot(`
      ".version 9.0
      .target sm_90
      .address_size 64

      .visible .entry axpb_map0(
        .param .u32 dim_B,
        .param .u64 buf0,
        .param .u64 buf1,
        .param .u64 buf2
      )
      .maxntid 256, 1, 1
      {
        .reg .pred %p<1>;
        .reg .b32 %r<10>;
        .reg .f32 %f<4>;
        .reg .b64 %rd<6>;
        griddepcontrol.wait;
        mov.u32 %r1, %ctaid.x;
        mov.u32 %r2, %tid.x;
        mad.lo.u32 %r0, %r1, 256, %r2;
        ld.param.u32 %r3, [dim_B];
        mul.lo.u32 %r4, %r3, 4;
        ld.param.u64 %rd0, [buf0];
        cvta.to.global.u64 %rd0, %rd0;
        ld.param.u64 %rd2, [buf1];
        cvta.to.global.u64 %rd2, %rd2;
        ld.param.u64 %rd4, [buf2];
        cvta.to.global.u64 %rd4, %rd4;
        setp.ge.u32 %p0, %r0, %r4;
        @%p0 bra $L_done_0;
        rem.u32 %r6, %r0, 4;
        div.u32 %r5, %r0, 4;
        // add:f32[B,4]
        mul.lo.u32 %r7, %r5, 4;
        add.s32 %r8, %r7, %r6;
        mad.wide.u32 %rd1, %r8, 4, %rd0;
        ld.global.nc.f32 %f0, [%rd1];
        mad.wide.u32 %rd3, %r6, 2, %rd2;
        ld.global.nc.u16 %r9, [%rd3];
        shl.b32 %r9, %r9, 16;
        mov.b32 %f1, %r9;
        mul.rn.f32 %f2, %f0, %f1;
        add.rn.f32 %f3, %f2, 0f3F800000;
        mad.wide.u32 %rd5, %r0, 4, %rd4;
        st.global.f32 [%rd5], %f3;
      $L_done_0:
        griddepcontrol.launch_dependents;
        ret;
      }
      "
    `);
  });

  it('emits ASCII text with the sm_90 header, one .entry per module, and no node ids', () => {
    const plan = compileProgram(lstmSpeculator({ hiddenSize: 64, width: 64, vocabSize: 512, nPredict: 2, scaleInput: true }).graph, { maxDims: { B: 8 } });
    for (const [key, text] of Object.entries(plan.modules)) {
      expect(text.startsWith('.version 9.0\n.target sm_90\n.address_size 64\n')).toBe(true);
      expect(text.match(/\.visible \.entry /g)).toHaveLength(1);
      expect(text).toContain(`.visible .entry ${key}(`);
      expect(/^[\x09\x0a\x20-\x7e]*$/.test(text)).toBe(true);
    }
  });
});
