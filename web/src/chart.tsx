// One component for every chart: Apache ECharts with the SVG renderer (crisp, and testable in the DOM).
// Only the chart kinds and components the pages use are registered, which keeps the bundle small.
import { BarChart, HeatmapChart, LineChart, ScatterChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent, VisualMapComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([BarChart, HeatmapChart, LineChart, ScatterChart, GridComponent, LegendComponent, TooltipComponent, VisualMapComponent, SVGRenderer]);

type Option = Parameters<echarts.EChartsType['setOption']>[0];

export function Chart({ option, height = 260, testId }: { option: Option; height?: number; testId?: string }) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const chart = echarts.init(element.current!, undefined, { renderer: 'svg' });
    // No animation: a chart shows its final state at once (screenshots and tests see what users see).
    chart.setOption({ animation: false, ...option });
    const resize = () => chart.resize();
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      chart.dispose();
    };
  }, [option]);
  return <div ref={element} style={{ width: '100%', height }} data-testid={testId} />;
}

/** ECharts puts what a tooltip formatter returns into the page as HTML: names and class names come
 *  from users (a model named <img onerror=...> would run in every reader's dashboard), so escape them. */
export const escapeHtml = (text: string) => echarts.format.encodeHTML(text);

export const BAR_COLOUR = '#3b6fd4';
export const RARE_COLOUR = '#d9534f';
