/** The inline stylesheet and recording player of the timeline page (timeline-html.ts). */

export const CSS = `
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{padding:12px 16px;background:#1d2330;color:#fff}
header h1{font-size:16px;margin:0 0 4px}
header p{margin:2px 0;color:#c9d1e0}
.counts span{display:inline-block;margin-right:12px}
table{border-collapse:collapse;width:100%;table-layout:fixed}
th,td{border-bottom:1px solid #dde1e8;padding:4px 6px;vertical-align:top;text-align:left;overflow-wrap:anywhere}
th{position:sticky;top:0;background:#e9ecf1}
th.time,td.time{width:13em;font-family:ui-monospace,monospace;font-size:12px;color:#555}
.entry{border-left:3px solid #7a8699;padding-left:6px}
.entry.allow{border-color:#2f9e44}
.entry.deny{border-color:#c92a2a;background:#fff0f0}
th.lane-orphan{color:#c92a2a}.lane-orphan .entry{border-color:#c92a2a;background:#ffe3e3;color:#8a1010}
.entry .ev{font-weight:600}
.entry .meta{font-family:ui-monospace,monospace;font-size:12px;color:#444}
.badge{font-size:11px;padding:0 4px;border-radius:3px;background:#dde1e8}
.deny .badge{background:#c92a2a;color:#fff}
section.recordings{padding:12px 16px}
.player{margin:12px 0;border:1px solid #c5ccd8;border-radius:4px;background:#fff}
.player .bar{padding:6px;background:#e9ecf1}
.player pre{margin:0;padding:8px;background:#111;color:#e6e6e6;min-height:6em;max-height:30em;overflow:auto;white-space:pre-wrap}
.problem{color:#c92a2a}
`;

// The player: frames are [seconds, text] with escapes already stripped; text
// is appended with textContent, never parsed as HTML. Idle gaps capped at 2s.
export const PLAYER_JS = `
(function(){
  var players=document.querySelectorAll('.player');
  for(var i=0;i<players.length;i++)(function(el){
    var data=JSON.parse(document.getElementById(el.getAttribute('data-frames')).textContent);
    var pre=el.querySelector('pre'),btn=el.querySelector('button.play'),clock=el.querySelector('.clock');
    var next=0,timer=null,playing=false;
    function show(){clock.textContent=(next<data.length?data[next][0]:(data.length?data[data.length-1][0]:0)).toFixed(1)+'s'}
    function step(){
      if(next>=data.length){playing=false;btn.textContent='replay';return}
      pre.textContent+=data[next][1];pre.scrollTop=pre.scrollHeight;
      next++;show();
      if(next>=data.length){playing=false;btn.textContent='replay';return}
      var gap=Math.min(Math.max(data[next][0]-data[next-1][0],0),2);
      timer=setTimeout(step,gap*1000);
    }
    btn.addEventListener('click',function(){
      if(playing){clearTimeout(timer);playing=false;btn.textContent='play';return}
      if(next>=data.length){next=0;pre.textContent=''}
      playing=true;btn.textContent='pause';step();
    });
    show();
  })(players[i]);
})();
`;
