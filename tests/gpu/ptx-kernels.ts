// Hand-written PTX for the driver tests (no compiler involved).
const HEADER = '.version 9.0\n.target sm_90\n.address_size 64\n';

/** out[i] = a[i] + b[i] for i < n — the reference's minimal kernel (ptx-and-driver.md §1.3). */
export const VADD_PTX = `${HEADER}
.visible .entry vadd(
    .param .u64 vadd_out,
    .param .u64 vadd_a,
    .param .u64 vadd_b,
    .param .u32 vadd_n
)
.maxntid 256, 1, 1
{
    .reg .pred  %p<2>;
    .reg .b32   %r<6>;
    .reg .f32   %f<4>;
    .reg .b64   %rd<10>;

    ld.param.u64    %rd1, [vadd_out];
    ld.param.u64    %rd2, [vadd_a];
    ld.param.u64    %rd3, [vadd_b];
    ld.param.u32    %r1,  [vadd_n];
    mov.u32         %r2, %ctaid.x;
    mov.u32         %r3, %ntid.x;
    mov.u32         %r4, %tid.x;
    mad.lo.s32      %r5, %r2, %r3, %r4;
    setp.ge.u32     %p1, %r5, %r1;
    @%p1 bra        $L_done;

    cvta.to.global.u64 %rd4, %rd1;
    cvta.to.global.u64 %rd5, %rd2;
    cvta.to.global.u64 %rd6, %rd3;
    mul.wide.u32    %rd7, %r5, 4;
    add.s64         %rd8, %rd5, %rd7;
    ld.global.nc.f32 %f1, [%rd8];
    add.s64         %rd8, %rd6, %rd7;
    ld.global.nc.f32 %f2, [%rd8];
    add.f32         %f3, %f1, %f2;
    add.s64         %rd9, %rd4, %rd7;
    st.global.f32   [%rd9], %f3;
$L_done:
    ret;
}
`;

/** vadd with a typo ('addd'): the driver JIT must reject it and say so in its error log. */
export const BAD_PTX = VADD_PTX.replace('add.f32         %f3', 'addd.f32        %f3');
/** A PTX ISA version the 580 driver does not know (CUDA_ERROR_UNSUPPORTED_PTX_VERSION). */
export const FUTURE_PTX = VADD_PTX.replace('.version 9.0', '.version 9.9');

/** Stores to address 0: a kernel fault (700) on purpose. Speculator-shaped signature, so a plan can launch it. */
export const FAULT_PTX = `${HEADER}
.visible .entry fault_null(
    .param .u64 fault_null_draft,
    .param .u64 fault_null_hidden,
    .param .u64 fault_null_tokens,
    .param .u32 fault_null_B
)
{
    .reg .b32   %r<2>;
    .reg .b64   %rd<2>;
    ld.param.u32    %r1, [fault_null_B];
    mov.u64         %rd1, 0;
    st.global.u32   [%rd1], %r1;
    ret;
}
`;
