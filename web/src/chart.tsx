// One component for every chart: Apache ECharts with the SVG renderer (crisp, and testable in the DOM).
import * as echarts from 'echarts';
import { useEffect, useRef } from 'react';

export function Chart({ option, height = 260, testId }: { option: echarts.EChartsOption; height?: number; testId?: string }) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const chart = echarts.init(element.current!, undefined, { renderer: 'svg' });
    chart.setOption(option);
    const resize = () => chart.resize();
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      chart.dispose();
    };
  }, [option]);
  return <div ref={element} style={{ width: '100%', height }} data-testid={testId} />;
}

export const BAR_COLOUR = '#3b6fd4';
export const RARE_COLOUR = '#d9534f';
